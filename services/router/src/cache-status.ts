import type { GetCacheStatusResponse } from "@gateway/proto/router/v1/router_pb.js";
import { CACHED_CALL_NAMES, type CacheSettings } from "./config/cache-settings.js";
import type { ResponseCache } from "./response-cache.js";

/** The response cache as /cache/ping shows it. */
export function cacheStatus(settings: CacheSettings | undefined, cache: ResponseCache): Omit<GetCacheStatusResponse, "$typeName"> {
  if (!settings) return { enabled: false, type: "", callTypes: [], mode: "", ttlSeconds: 0, namespace: "", entries: 0 };
  return {
    enabled: true,
    type: "local",
    callTypes: [...settings.callTypes].map((type) => CACHED_CALL_NAMES.get(type)!),
    mode: settings.defaultOn ? "default_on" : "default_off",
    ttlSeconds: settings.ttlMs / 1000,
    namespace: settings.namespace,
    entries: cache.size,
  };
}
