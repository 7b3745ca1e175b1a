import type { CallEvent } from "./outcome.js";

/**
 * The stream of a deployment that has started answering, from its first
 * event on, as the router hands it over. `end` runs once, however the stream
 * ends: read to its end, broken, or given up by its reader (the provider's
 * stream is closed first). A stream that breaks before its Finished event
 * ends with `lastWords` (a Finished event with the usage seen so far, when
 * there is usage) and then its error, so what the client used is still
 * recorded. `firstChunk` runs once, as the first event after Started that
 * is not Finished arrives (the stream's time to its first token). An
 * iterator of its own rather than a generator around the provider's, which
 * would resume once more for every chunk.
 */
export class AnsweredStream implements AsyncIterableIterator<CallEvent> {
  private first: CallEvent | undefined;
  private finishedSeen = false;
  /** The error to throw once the last words are out. */
  private broken: { error: unknown } | undefined;
  private ended = false;

  constructor(
    first: CallEvent,
    private readonly rest: AsyncIterator<CallEvent>,
    private readonly lastWords: () => CallEvent | undefined,
    private readonly end: () => void,
    private firstChunk?: () => void,
  ) {
    this.first = this.see(first);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<CallEvent>> {
    const { first, broken } = this;
    if (first) {
      this.first = undefined;
      return Promise.resolve({ done: false, value: first });
    }
    if (broken) {
      this.broken = undefined;
      return Promise.reject(broken.error);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return this.rest.next().then(
      (result) => {
        if (result.done === true) this.finish();
        else this.see(result.value);
        return result;
      },
      (error: unknown) => {
        this.finish();
        const last = this.finishedSeen ? undefined : this.lastWords();
        if (!last) throw error;
        this.broken = { error };
        return { done: false, value: last };
      },
    );
  }

  /** The reader stopped: the provider's stream is closed, then the end is recorded. */
  async return(): Promise<IteratorResult<CallEvent>> {
    if (!this.ended) {
      try {
        await this.rest.return?.();
      } finally {
        this.finish();
      }
    }
    return { done: true, value: undefined };
  }

  private see(event: CallEvent): CallEvent {
    const kind = event.event.case;
    if (kind === "finished") this.finishedSeen = true;
    else if (this.firstChunk && kind !== "started") {
      this.firstChunk();
      this.firstChunk = undefined;
    }
    return event;
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.end();
  }
}
