// A decoder of AWS's binary event-stream framing (application/vnd.amazon.eventstream), read as bytes arrive.
import { crc32 } from "node:zlib";

/** A header's value, by its wire type: booleans, integers (64-bit ones as bigint), bytes, strings, timestamps, UUIDs (as strings). */
export type EventStreamHeaderValue = string | number | bigint | boolean | Uint8Array | Date;

/** One message: its headers (such as :event-type, :content-type, :message-type) and its payload. */
export interface EventStreamMessage {
  headers: Record<string, EventStreamHeaderValue>;
  /** May share memory with the bytes pushed (as may a byte-array header's value). */
  payload: Uint8Array;
}

/** Thrown on a corrupt frame (bad CRC, lengths that do not fit, unknown header type) or a frame larger than the limit. */
export class EventStreamError extends Error {
  override name = "EventStreamError";
}

// Total length, headers length and the prelude's CRC, then the message's CRC at the end.
const PRELUDE_BYTES = 12;
const TRAILER_BYTES = 4;

// Buffer views for reading, plain Uint8Array views for what is handed out; neither copies.
function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function plain(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Reads event-stream messages from bytes as they arrive: each push gives the
 * messages its bytes complete. Frame layout: total length, headers length,
 * CRC32 of those 8 bytes (all uint32 big-endian), headers, payload, CRC32 of
 * everything before it.
 */
export class EventStreamReader {
  /**
   * The bytes of messages not complete yet, in the pieces they came in:
   * joined only once a whole frame is there, not with every piece.
   */
  private chunks: Uint8Array[] = [];
  private held = 0;
  /** The total length of the frame under way, once its prelude has come and been checked. */
  private frameLength: number | undefined;

  /** @param maxMessageBytes the largest frame accepted (16 MiB unless given); a prelude announcing more throws at once. */
  constructor(private readonly maxMessageBytes = 16 * 1024 * 1024) {}

  /** Bytes held for an incomplete message. */
  get pending(): number {
    return this.held;
  }

  /** Takes the next bytes (any split, including mid-prelude), returns the complete messages they finish, in order. */
  push(bytes: Uint8Array): EventStreamMessage[] {
    if (bytes.length > 0) {
      this.chunks.push(bytes);
      this.held += bytes.length;
    }
    const messages: EventStreamMessage[] = [];
    for (;;) {
      if (this.frameLength === undefined) {
        if (this.held < PRELUDE_BYTES) break;
        this.frameLength = this.prelude(this.head(PRELUDE_BYTES));
      }
      if (this.held < this.frameLength) break;
      const all = this.head(this.held);
      messages.push(decodeFrame(all.subarray(0, this.frameLength)));
      const rest = all.subarray(this.frameLength);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.held = rest.length;
      this.frameLength = undefined;
    }
    return messages;
  }

  /** The first `count` held bytes in one buffer, copied only when they span pieces. */
  private head(count: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= count) return view(first).subarray(0, count);
    const joined = Buffer.concat(this.chunks, this.held);
    this.chunks = [joined];
    return joined.subarray(0, count);
  }

  /** Checks a prelude and gives the frame's total length. */
  private prelude(prelude: Buffer): number {
    if (crc32(prelude.subarray(0, 8)) !== prelude.readUInt32BE(8)) throw new EventStreamError("event stream: prelude CRC mismatch");
    const total = prelude.readUInt32BE(0);
    const headersLength = prelude.readUInt32BE(4);
    if (total > this.maxMessageBytes) throw new EventStreamError(`event stream: a ${total}-byte message is over the ${this.maxMessageBytes}-byte limit`);
    if (total < PRELUDE_BYTES + TRAILER_BYTES || headersLength > total - PRELUDE_BYTES - TRAILER_BYTES) {
      throw new EventStreamError(`event stream: lengths do not fit (total ${total}, headers ${headersLength})`);
    }
    return total;
  }
}

/** One whole frame, its prelude already checked. */
function decodeFrame(frame: Buffer): EventStreamMessage {
  const crcAt = frame.length - TRAILER_BYTES;
  if (crc32(frame.subarray(0, crcAt)) !== frame.readUInt32BE(crcAt)) throw new EventStreamError("event stream: message CRC mismatch");
  const headersEnd = PRELUDE_BYTES + frame.readUInt32BE(4);
  return { headers: decodeHeaders(frame.subarray(PRELUDE_BYTES, headersEnd)), payload: plain(frame.subarray(headersEnd, crcAt)) };
}

/** Reads a headers block front to back, each read checked to lie inside it. */
class HeaderCursor {
  private at = 0;

  constructor(private readonly block: Buffer) {}

  get done(): boolean {
    return this.at >= this.block.length;
  }

  /** The next `count` bytes. */
  bytes(count: number): Buffer {
    if (this.at + count > this.block.length) throw new EventStreamError("event stream: a header runs past the headers block");
    const bytes = this.block.subarray(this.at, this.at + count);
    this.at += count;
    return bytes;
  }
}

function decodeHeaders(block: Buffer): Record<string, EventStreamHeaderValue> {
  // No prototype, so a header named __proto__ is just a header.
  const headers: Record<string, EventStreamHeaderValue> = Object.create(null);
  const cursor = new HeaderCursor(block);
  while (!cursor.done) {
    const name = cursor.bytes(cursor.bytes(1).readUInt8(0)).toString("utf8");
    headers[name] = headerValue(cursor, cursor.bytes(1).readUInt8(0));
  }
  return headers;
}

function headerValue(cursor: HeaderCursor, type: number): EventStreamHeaderValue {
  switch (type) {
    case 0:
      return true;
    case 1:
      return false;
    case 2:
      return cursor.bytes(1).readInt8(0);
    case 3:
      return cursor.bytes(2).readInt16BE(0);
    case 4:
      return cursor.bytes(4).readInt32BE(0);
    case 5:
      return cursor.bytes(8).readBigInt64BE(0);
    case 6:
      return plain(cursor.bytes(cursor.bytes(2).readUInt16BE(0)));
    case 7:
      return cursor.bytes(cursor.bytes(2).readUInt16BE(0)).toString("utf8");
    case 8:
      return new Date(Number(cursor.bytes(8).readBigInt64BE(0)));
    case 9: {
      // 16 bytes, given in the usual 8-4-4-4-12 hex form.
      const hex = cursor.bytes(16).toString("hex");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    }
    default:
      throw new EventStreamError(`event stream: unknown header value type ${type}`);
  }
}
