import type { Client } from "@connectrpc/connect";
import { createLogger } from "@gateway/common";
import type { AuthorizeResponse, KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { eventually } from "@gateway/testing";
import { expect, it } from "vitest";
import { AuthCache } from "../src/auth-cache.js";

/** A keys service whose WatchKeys stream says what the test pushes. */
function watchedKeys() {
  const queue: { all: boolean; keyHash: string }[] = [];
  let wake = () => {};
  const client = {
    async *watchKeys(_req: unknown, { signal }: { signal: AbortSignal }) {
      while (!signal.aborted) {
        const event = queue.shift();
        if (event) yield event;
        else await new Promise<void>((resolve) => ((wake = resolve), signal.addEventListener("abort", () => resolve(), { once: true })));
      }
    },
  } as unknown as Client<typeof KeysService>;
  const push = (event: { all?: boolean; keyHash?: string }) => {
    queue.push({ all: event.all ?? false, keyHash: event.keyHash ?? "" });
    wake();
  };
  return { client, push, pending: () => queue.length };
}

it("forgets that a key's answers reserve when the keys service says the key changed (a deleted key's stayed until 100,000 piled up)", async () => {
  const keys = watchedKeys();
  const cache = new AuthCache(keys.client, createLogger("auth-cache-test", "silent"));
  const reserving = (cache as unknown as { reserving: Set<string> }).reserving;
  cache.start();
  keys.push({ all: true });
  await eventually("the watch to be live", async () => (keys.pending() === 0 ? true : undefined));
  const reserved = { reserved: true, reusableUntilMs: 0n } as unknown as AuthorizeResponse;
  await cache.ask("hash-deleted", "fast-model", async () => reserved);
  await cache.ask("hash-kept", "fast-model", async () => reserved);
  expect([...reserving]).toEqual(["hash-deleted", "hash-kept"]);
  keys.push({ keyHash: "hash-deleted" });
  await eventually("the deleted key forgotten", async () => (reserving.has("hash-deleted") ? undefined : true));
  expect([...reserving]).toEqual(["hash-kept"]);
  await cache.close();
});
