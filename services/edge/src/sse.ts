import type { ServerResponse } from "node:http";
import { drained } from "@gateway/common";

export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

const PREFIX = Buffer.from("data: ");
const SUFFIX = Buffer.from("\n\n");
const DONE = Buffer.from("data: [DONE]\n\n");

/** Writes one `data:` event (one chunk on the wire), waiting for the socket when the client reads slowly. */
export function writeEvent(res: ServerResponse, data: Uint8Array | string): Promise<void> {
  return write(res, PREFIX, data);
}

/** Writes one event with an `event:` name (Anthropic's streams name every event). */
export function writeNamedEvent(res: ServerResponse, name: string, data: Uint8Array | string): Promise<void> {
  return write(res, Buffer.from(`event: ${name}\ndata: `), data);
}

async function write(res: ServerResponse, head: Buffer, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  if (!res.write(Buffer.concat([head, bytes, SUFFIX], head.length + bytes.length + SUFFIX.length)) && !res.destroyed) await drained(res);
}

export function writeDone(res: ServerResponse): void {
  res.end(DONE);
}
