import { StringDecoder } from "node:string_decoder";

/** One server-sent event: its `event:` name (if any) and its joined `data:` lines. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * Reads server-sent events (the event-stream format) from bytes as they
 * arrive: each push gives the events its bytes complete, so a stream is read
 * in one loop over its chunks rather than through a generator of its own.
 */
export class SseReader {
  // Keeps a character split across chunks until its last byte comes.
  private readonly decoder = new StringDecoder("utf8");
  /**
   * The start of a line whose end has not come yet, in the pieces it came
   * in: joined once its end comes, not again with every piece, which made a
   * long line cost its length squared.
   */
  private partial: string[] = [];
  /** The characters in `partial`. */
  private partialLength = 0;
  private event: string | undefined;
  private data: string | undefined;

  /** The characters held for an event not complete yet (its data lines and the line under way). */
  get pending(): number {
    return this.partialLength + (this.data?.length ?? 0);
  }

  /** The events these bytes complete. */
  push(bytes: Uint8Array): SseEvent[] {
    const text = this.decoder.write(bytes);
    if (!text.includes("\n")) {
      this.partial.push(text);
      this.partialLength += text.length;
      return [];
    }
    const started = this.partial.length === 0 ? "" : this.partial.join("");
    this.partial.length = 0;
    this.partialLength = 0;
    return this.lines(started + text);
  }

  /** At the stream's end: a last event whose blank line never came (a line cut short is dropped). */
  end(): SseEvent[] {
    const last = this.data === undefined ? [] : [{ event: this.event, data: this.data }];
    this.partial.length = 0;
    this.partialLength = 0;
    this.event = undefined;
    this.data = undefined;
    return last;
  }

  private lines(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    let newline: number;
    while ((newline = text.indexOf("\n", start)) >= 0) {
      const end = newline > start && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      if (end === start) {
        if (this.data !== undefined) events.push({ event: this.event, data: this.data });
        this.event = undefined;
        this.data = undefined;
      } else if (text.startsWith("data:", start)) {
        const value = text.slice(text.charCodeAt(start + 5) === 32 ? start + 6 : start + 5, end);
        this.data = this.data === undefined ? value : `${this.data}\n${value}`;
      } else if (text.startsWith("event:", start)) {
        this.event = text.slice(start + 6, end).trim();
      }
      start = newline + 1;
    }
    if (start < text.length) {
      this.partial.push(text.slice(start));
      this.partialLength = text.length - start;
    }
    return events;
  }
}
