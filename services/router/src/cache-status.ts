import type { GetCacheStatusResponse } from "@gateway/proto/router/v1/router_pb.js";
import { CALL_HANDLERS } from "./calls.js";
import type { CacheSettings } from "./config/cache-settings.js";
import type { ResponseCache } from "./response-cache.js";
import type { SharedAnswers } from "./shared-answers.js";

/**
 * The response cache as /cache/ping shows it; shared between replicas, once
 * the shared answers have answered a read (an unreachable store throws).
 */
export async function cacheStatus(settings: CacheSettings | undefined, cache: ResponseCache, shared: SharedAnswers | undefined): Promise<Omit<GetCacheStatusResponse, "$typeName">> {
  if (!settings) return { enabled: false, type: "", callTypes: [], mode: "", ttlSeconds: 0, namespace: "", entries: 0 };
  const sharing = settings.shared && shared !== undefined;
  if (sharing) await shared.ping();
  return {
    enabled: true,
    type: sharing ? "redis" : "local",
    // LiteLLM's names, as the usage events carry them.
    callTypes: [...settings.callTypes].map((type) => CALL_HANDLERS.get(type)!.name),
    mode: settings.defaultOn ? "default_on" : "default_off",
    ttlSeconds: settings.ttlMs / 1000,
    namespace: settings.namespace,
    entries: cache.size,
  };
}
