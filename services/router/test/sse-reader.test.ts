import { describe, expect, it } from "vitest";
import { SseReader, type SseEvent } from "../src/sse-reader.js";

/** Every event of `bytes` read in pieces of `size` bytes, then the stream's end. */
function read(bytes: Buffer, size: number): SseEvent[] {
  const reader = new SseReader();
  const events: SseEvent[] = [];
  for (let at = 0; at < bytes.length; at += size) events.push(...reader.push(bytes.subarray(at, at + size)));
  return [...events, ...reader.end()];
}

describe("server-sent events", () => {
  it("reads the same events however the bytes are split, characters of several bytes included", () => {
    const stream = Buffer.from(
      ': a comment\r\n' +
        'data: {"text":"héllo 😀"}\r\n\r\n' +
        "event: content_block_delta\nid: 7\ndata: first line\ndata:second line\n\n" +
        "data: [DONE]\n\n",
    );
    const expected = [
      { event: undefined, data: '{"text":"héllo 😀"}' },
      { event: "content_block_delta", data: "first line\nsecond line" },
      { event: undefined, data: "[DONE]" },
    ];
    for (let size = 1; size <= stream.length; size++) expect(read(stream, size)).toEqual(expected);
  });

  it("gives a last event whose blank line never came, and drops a line cut short", () => {
    expect(read(Buffer.from("data: one\n\ndata: two\n"), 4)).toEqual([
      { event: undefined, data: "one" },
      { event: undefined, data: "two" },
    ]);
    expect(read(Buffer.from("data: one\n\ndata: tw"), 64)).toEqual([{ event: undefined, data: "one" }]);
  });

  it("dispatches nothing for a blank line without data", () => {
    expect(read(Buffer.from("event: ping\n\n\n\ndata: x\n\n"), 3)).toEqual([{ event: undefined, data: "x" }]);
  });

  it("holds what an event not complete yet has come with, and lets it go once the event is out", () => {
    const reader = new SseReader();
    expect(reader.push(Buffer.from("data: one\ndata: tw"))).toEqual([]);
    expect(reader.pending).toBe("one".length + "data: tw".length);
    for (let i = 0; i < 1000; i++) reader.push(Buffer.from("o"));
    expect(reader.pending).toBe(3 + 8 + 1000);
    expect(reader.push(Buffer.from("\n\n"))).toEqual([{ event: undefined, data: `one\ntw${"o".repeat(1000)}` }]);
    expect(reader.pending).toBe(0);
  });
});
