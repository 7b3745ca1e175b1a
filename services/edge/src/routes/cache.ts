import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asAdmin, asMasterKey, asViewer, sendJson } from "../http.js";
import { bad, body } from "./admin-request.js";

// LiteLLM's response cache routes, for admins: whether the cache is
// on (/cache/ping), dropping answers by key (/cache/delete) or all of them
// (/cache/flushall).

// Keys a delete may name at once.
const MAX_DELETE_KEYS = 1000;

/** GET /cache/ping: the cache's settings when it is on; 503 when litellm_settings.cache is off. */
export async function cachePing(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const status = await ctx.options.peers.router.getCacheStatus({}, asMasterKey(ctx));
  if (!status.enabled) {
    throw gatewayError("the response cache is off: set litellm_settings.cache to true", Code.Unavailable, { type: "service_unavailable", status: 503 });
  }
  sendJson(ctx.res, 200, {
    status: "healthy",
    cache_type: status.type,
    ping_response: true,
    set_cache_response: "success",
    litellm_cache_params: {
      type: status.type,
      supported_call_types: status.callTypes,
      mode: status.mode,
      ttl: status.ttlSeconds,
      namespace: status.namespace || null,
      entries: status.entries,
    },
  });
}

/** POST /cache/delete: { keys: [cache keys] }, as x-litellm-cache-key names them; dropped on every router replica. */
export async function cacheDelete(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const keys = (await body(ctx))["keys"];
  if (!Array.isArray(keys) || !keys.every((key): key is string => typeof key === "string")) throw bad("keys must be a list of cache keys", "keys");
  if (keys.length > MAX_DELETE_KEYS) throw bad(`keys may name at most ${MAX_DELETE_KEYS} cache keys at once`, "keys");
  await ctx.options.peers.router.deleteCachedResponses({ keys }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { status: "success" });
}

/** POST /cache/flushall: drops every cached answer, on every router replica. */
export async function cacheFlushAll(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  await ctx.options.peers.router.deleteCachedResponses({ all: true }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { status: "success" });
}
