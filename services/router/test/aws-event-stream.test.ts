import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { EventStreamError, EventStreamReader, type EventStreamMessage } from "../src/providers/aws/event-stream.js";

/** One encoded header: name length, name, value type, then the value's bytes as given. */
function header(name: string, type: number, value: Uint8Array = Buffer.alloc(0)): Buffer {
  const nameBytes = Buffer.from(name);
  return Buffer.concat([Buffer.from([nameBytes.length]), nameBytes, Buffer.from([type]), value]);
}

/** A string header (type 7): uint16 length, then UTF-8. */
function stringHeader(name: string, value: string): Buffer {
  const bytes = Buffer.from(value);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return header(name, 7, Buffer.concat([length, bytes]));
}

/** A whole frame: prelude with its CRC, headers, payload, then the CRC of all that. */
function frame(headers: Buffer[], payload: string | Buffer): Buffer {
  const headerBytes = Buffer.concat(headers);
  const payloadBytes = Buffer.from(payload);
  const total = 12 + headerBytes.length + payloadBytes.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headerBytes, payloadBytes]);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(body));
  return Buffer.concat([body, trailer]);
}

/** A ConverseStream-style event. */
function event(type: string, payload: object): Buffer {
  return frame(
    [stringHeader(":event-type", type), stringHeader(":content-type", "application/json"), stringHeader(":message-type", "event")],
    JSON.stringify(payload),
  );
}

/** A message's headers and its payload read as JSON, for comparing. */
function plain(message: EventStreamMessage): { headers: Record<string, unknown>; payload: unknown } {
  return { headers: { ...message.headers }, payload: JSON.parse(Buffer.from(message.payload).toString("utf8")) };
}

const DELTA = event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "héllo 😀" } });
const STOP = event("messageStop", { stopReason: "end_turn" });
const DECODED_DELTA = {
  headers: { ":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event" },
  payload: { contentBlockIndex: 0, delta: { text: "héllo 😀" } },
};
const DECODED_STOP = { headers: { ...DECODED_DELTA.headers, ":event-type": "messageStop" }, payload: { stopReason: "end_turn" } };

describe("AWS event stream reader", () => {
  it("decodes a message with string headers and a JSON payload", () => {
    const reader = new EventStreamReader();
    expect(reader.push(DELTA).map(plain)).toEqual([DECODED_DELTA]);
    expect(reader.pending).toBe(0);
  });

  it("gives both messages when one push holds two", () => {
    expect(new EventStreamReader().push(Buffer.concat([DELTA, STOP])).map(plain)).toEqual([DECODED_DELTA, DECODED_STOP]);
  });

  it("gives the same messages however the bytes are split, one at a time included", () => {
    const stream = Buffer.concat([DELTA, STOP]);
    for (const size of [1, 2, 5, 11, 12, 13, DELTA.length - 1, DELTA.length, DELTA.length + 1]) {
      const reader = new EventStreamReader();
      const messages: EventStreamMessage[] = [];
      for (let at = 0; at < stream.length; at += size) messages.push(...reader.push(stream.subarray(at, at + size)));
      expect(messages.map(plain)).toEqual([DECODED_DELTA, DECODED_STOP]);
      expect(reader.pending).toBe(0);
    }
  });

  it("decodes every header value type", () => {
    const int = (bytes: number, write: (b: Buffer) => void): Buffer => {
      const b = Buffer.alloc(bytes);
      write(b);
      return b;
    };
    const bytes = Buffer.from([1, 2, 255]);
    const [message] = new EventStreamReader().push(
      frame(
        [
          header("t", 0),
          header("f", 1),
          header("byte", 2, int(1, (b) => b.writeInt8(-7))),
          header("short", 3, int(2, (b) => b.writeInt16BE(-300))),
          header("integer", 4, int(4, (b) => b.writeInt32BE(-70_000))),
          header("long", 5, int(8, (b) => b.writeBigInt64BE(-(2n ** 40n)))),
          header("bytes", 6, Buffer.concat([int(2, (b) => b.writeUInt16BE(bytes.length)), bytes])),
          stringHeader("string", "ünïcode"),
          header("timestamp", 8, int(8, (b) => b.writeBigInt64BE(1_700_000_000_123n))),
          header("uuid", 9, Buffer.from("00112233445566778899aabbccddeeff", "hex")),
        ],
        "",
      ),
    );
    expect(message?.headers).toEqual({
      t: true,
      f: false,
      byte: -7,
      short: -300,
      integer: -70_000,
      long: -(2n ** 40n),
      bytes: new Uint8Array([1, 2, 255]),
      string: "ünïcode",
      timestamp: new Date(1_700_000_000_123),
      uuid: "00112233-4455-6677-8899-aabbccddeeff",
    });
    expect(message?.payload.length).toBe(0);
  });

  it("rejects a frame whose payload changed (message CRC)", () => {
    const bad = Buffer.from(DELTA);
    bad[bad.length - 6] = (bad[bad.length - 6] ?? 0) ^ 0x01;
    expect(() => new EventStreamReader().push(bad)).toThrow(new EventStreamError("event stream: message CRC mismatch"));
  });

  it("rejects a frame whose prelude changed (prelude CRC), before the rest of it comes", () => {
    const bad = Buffer.from(DELTA);
    bad[3] = (bad[3] ?? 0) ^ 0x01;
    expect(() => new EventStreamReader().push(bad.subarray(0, 12))).toThrow(new EventStreamError("event stream: prelude CRC mismatch"));
  });

  it("rejects a prelude announcing a message over the limit without waiting for its bytes", () => {
    const reader = new EventStreamReader(DELTA.length - 1);
    expect(() => reader.push(DELTA.subarray(0, 12))).toThrow(EventStreamError);
    expect(new EventStreamReader(DELTA.length).push(DELTA)).toHaveLength(1);
  });

  it("rejects headers that run past their block, and an unknown header type", () => {
    expect(() => new EventStreamReader().push(frame([header("s", 7, Buffer.from([0, 9, 1]))], "{}"))).toThrow(EventStreamError);
    expect(() => new EventStreamReader().push(frame([header("x", 10)], "{}"))).toThrow(/unknown header value type 10/);
  });

  it("reports the bytes held for a message not complete yet", () => {
    const reader = new EventStreamReader();
    expect(reader.push(Buffer.concat([DELTA, STOP.subarray(0, 5)])).map(plain)).toEqual([DECODED_DELTA]);
    expect(reader.pending).toBe(5);
    expect(reader.push(STOP.subarray(5, 20))).toEqual([]);
    expect(reader.pending).toBe(20);
    expect(reader.push(STOP.subarray(20)).map(plain)).toEqual([DECODED_STOP]);
    expect(reader.pending).toBe(0);
  });
});
