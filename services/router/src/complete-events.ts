import type { ConnectError } from "@connectrpc/connect";
import type { CallEvent } from "./outcome.js";

/**
 * A Complete call's events as its caller reads them, straight from the
 * router's own iterator, with a last step once they end, however they end:
 * done, failed (the error as the caller sees it), or given up by the caller
 * (`abandoned`). The call starts at the first read, as a generator's body
 * would. An iterator of its own rather than a generator wrapped around the
 * router's, which would resume once more for every event.
 */
export class CompleteEvents implements AsyncIterableIterator<CallEvent> {
  private events: AsyncIterator<CallEvent> | undefined;
  private ended = false;

  constructor(
    private readonly start: () => AsyncIterable<CallEvent>,
    private readonly toError: (err: unknown) => ConnectError,
    private readonly end: (error: ConnectError | undefined) => void,
    private readonly abandoned: ConnectError,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<CallEvent>> {
    if (!this.events) {
      // Given up before it started: it never will.
      if (this.ended) return Promise.resolve({ done: true, value: undefined });
      try {
        this.events = this.start()[Symbol.asyncIterator]();
      } catch (err) {
        return Promise.reject(this.fail(err));
      }
    }
    return this.events.next().then(
      (result) => {
        if (result.done === true) this.finish(undefined);
        return result;
      },
      (err: unknown) => {
        throw this.fail(err);
      },
    );
  }

  /** The caller stopped reading: the router's call is closed first (its attempts settle), then the end is recorded. */
  async return(): Promise<IteratorResult<CallEvent>> {
    // Not started: there is no call to close or record.
    if (!this.events) this.ended = true;
    try {
      await this.events?.return?.();
    } finally {
      this.finish(this.abandoned);
    }
    return { done: true, value: undefined };
  }

  private fail(err: unknown): ConnectError {
    const error = this.toError(err);
    this.finish(error);
    return error;
  }

  private finish(error: ConnectError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.end(error);
  }
}
