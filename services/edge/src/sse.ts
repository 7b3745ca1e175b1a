import type { ServerResponse } from "node:http";

export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
};

const PREFIX = Buffer.from("data: ");
const SUFFIX = Buffer.from("\n\n");
const DONE = Buffer.from("data: [DONE]\n\n");

/** Writes one `data:` event, waiting for the socket when the client reads slowly. */
export async function writeEvent(res: ServerResponse, data: Uint8Array | string): Promise<void> {
  res.write(PREFIX);
  res.write(data);
  if (!res.write(SUFFIX) && !res.destroyed) await drained(res);
}

/** Writes one event with an `event:` name (Anthropic's streams name every event). */
export async function writeNamedEvent(res: ServerResponse, name: string, data: Uint8Array | string): Promise<void> {
  res.write(`event: ${name}\n`);
  await writeEvent(res, data);
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export function writeDone(res: ServerResponse): void {
  res.end(DONE);
}
