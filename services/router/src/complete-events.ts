import type { ConnectError } from "@connectrpc/connect";
import type { Answer } from "./calls.js";
import type { CallEvent } from "./outcome.js";

/**
 * A Complete call's events as its caller reads them: straight from the
 * answer the router resolved to (a list, or a stream that has begun), with a
 * last step once they end, however they end: done (for a list, as its last
 * event is handed over), failed (the error as the caller sees it), or given
 * up by the caller (`abandoned`). The call starts
 * at the first read, as a generator's body would. An iterator of its own
 * rather than a generator, which would resume once more for every event.
 */
export class CompleteEvents implements AsyncIterableIterator<CallEvent> {
  private started = false;
  private list: readonly CallEvent[] | undefined;
  private index = 0;
  private stream: AsyncIterator<CallEvent> | undefined;
  private ended = false;

  constructor(
    private readonly start: () => Promise<Answer>,
    private readonly toError: (err: unknown) => ConnectError,
    private readonly end: (error: ConnectError | undefined) => void,
    private readonly abandoned: ConnectError,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<CallEvent>> {
    if (this.list) return Promise.resolve(this.fromList(this.list));
    if (this.stream) return this.stream.next().then(this.settled, this.failed);
    // Given up before it started, or failed starting: nothing more comes.
    if (this.started) return Promise.resolve({ done: true, value: undefined });
    this.started = true;
    return this.start().then((answer) => {
      if (Symbol.asyncIterator in answer) {
        this.stream = answer[Symbol.asyncIterator]();
        return this.stream.next().then(this.settled, this.failed);
      }
      this.list = answer;
      return this.fromList(answer);
    }, this.failed);
  }

  /** The caller stopped reading: a stream is closed first (its attempt settles), then the end is recorded. */
  async return(): Promise<IteratorResult<CallEvent>> {
    // Not started: there is no call to close or record.
    if (!this.started) {
      this.started = true;
      this.ended = true;
    }
    try {
      await this.stream?.return?.();
    } finally {
      this.finish(this.abandoned);
    }
    return { done: true, value: undefined };
  }

  /**
   * A whole answer's end is recorded before its last event is handed over:
   * a caller that answers its client on that event (the edge, on Finished)
   * must not get ahead of the usage event, which a crash would then lose.
   */
  private fromList(list: readonly CallEvent[]): IteratorResult<CallEvent> {
    const value = list[this.index];
    if (value === undefined) {
      this.finish(undefined);
      return { done: true, value: undefined };
    }
    this.index += 1;
    if (this.index === list.length) this.finish(undefined);
    return { done: false, value };
  }

  private readonly settled = (result: IteratorResult<CallEvent>): IteratorResult<CallEvent> => {
    if (result.done === true) this.finish(undefined);
    return result;
  };

  private readonly failed = (err: unknown): never => {
    const error = this.toError(err);
    this.finish(error);
    throw error;
  };

  private finish(error: ConnectError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.end(error);
  }
}
