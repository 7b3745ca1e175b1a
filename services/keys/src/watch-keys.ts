import type { HandlerContext } from "@connectrpc/connect";
import type { WatchKeysResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import type { KeyCache } from "./key-cache.js";

/** How often a quiet stream says it is alive; a watcher gives up on one silent for a few of these. */
export const HEARTBEAT_MS = 2_000;
// A watcher this far behind is told to forget everything instead.
const MAX_QUEUED = 10_000;

const event = (keyHash: string, all: boolean): WatchKeysResponse => ({ $typeName: "gateway.keys.v1.WatchKeysResponse", keyHash, all });
const ALL = event("", true);
const HEARTBEAT = event("", false);

/**
 * WatchKeys: the key changes this replica sees, for callers that keep
 * Authorize answers. Its streams never end by themselves: `ending` ends them,
 * when the server starts shutting down, so callers move to another replica
 * and the shutdown does not wait for them.
 */
export function createWatchKeys(cache: KeyCache, ending: AbortSignal) {
  return async function* watchKeys(_req: unknown, ctx: HandlerContext): AsyncGenerator<WatchKeysResponse> {
    let queue: WatchKeysResponse[] = [ALL];
    let wake: (() => void) | undefined;
    const push = (e: WatchKeysResponse) => {
      // Forgetting everything covers whatever is still queued: a run of
      // team changes the watcher has not read yet is sent as one.
      if (e === ALL || queue.length >= MAX_QUEUED) queue = [ALL];
      else queue.push(e);
      wake?.();
    };
    const stopWatching = cache.watch((hash) => push(hash === undefined ? ALL : event(hash, false)));
    const heartbeat = setInterval(() => push(HEARTBEAT), HEARTBEAT_MS);
    const onAbort = () => wake?.();
    ctx.signal.addEventListener("abort", onAbort);
    ending.addEventListener("abort", onAbort);
    try {
      while (!ctx.signal.aborted && !ending.aborted) {
        const next = queue.shift();
        if (next) yield next;
        else await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stopWatching();
      clearInterval(heartbeat);
      ctx.signal.removeEventListener("abort", onAbort);
      ending.removeEventListener("abort", onAbort);
    }
  };
}
