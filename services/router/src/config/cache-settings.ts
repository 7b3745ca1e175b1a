import type { GatewayConfig } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";

/** The response cache's settings (litellm_settings.cache and cache_params), per config load. */
export interface CacheSettings {
  /** cache_params.type as written. */
  type: string;
  /**
   * type redis: answers are also shared between router replicas, in NATS
   * JetStream (the gateway's bus stands in for LiteLLM's Redis); any other
   * type keeps them in each replica's memory only.
   */
  shared: boolean;
  ttlMs: number;
  namespace: string;
  /** The call types answered from the cache. */
  callTypes: ReadonlySet<CallType>;
  /** mode: default_off: only a request that asks (`cache: {"use-cache": true}`) uses the cache. */
  defaultOn: boolean;
  /** Answers each replica keeps, at most; the least recently used goes first. */
  maxEntries: number;
}

// LiteLLM's in-memory cache defaults: ten minutes, 200 answers.
const DEFAULT_TTL_S = 600;
const DEFAULT_MAX_ENTRIES = 200;

// The call types the cache serves, by LiteLLM's names for them (with and
// without its async "a"). Uploads (transcriptions) are not: their multipart
// bodies differ by boundary for the same file.
const CACHEABLE: ReadonlyMap<string, CallType> = new Map([
  ["acompletion", CallType.CHAT_COMPLETIONS],
  ["completion", CallType.CHAT_COMPLETIONS],
  ["atext_completion", CallType.TEXT_COMPLETIONS],
  ["text_completion", CallType.TEXT_COMPLETIONS],
  ["aembedding", CallType.EMBEDDINGS],
  ["embedding", CallType.EMBEDDINGS],
  ["arerank", CallType.RERANK],
  ["rerank", CallType.RERANK],
]);

/** The cache's settings, or undefined when litellm_settings.cache is not on. */
export function cacheSettings(config: GatewayConfig): CacheSettings | undefined {
  const l = config.litellm_settings;
  if (l.cache !== true) return undefined;
  const p = l.cache_params ?? {};
  const named = p.supported_call_types ?? [...CACHEABLE.keys()];
  const callTypes = new Set(named.flatMap((name) => CACHEABLE.get(name) ?? []));
  return {
    type: p.type ?? "local",
    shared: p.type === "redis",
    ttlMs: (p.ttl ?? p.default_in_memory_ttl ?? DEFAULT_TTL_S) * 1000,
    namespace: p.namespace ?? "",
    callTypes,
    defaultOn: p.mode !== "default_off",
    maxEntries: p.max_size_in_memory ?? DEFAULT_MAX_ENTRIES,
  };
}

/** What a start should say about the cache settings: where they differ from what LiteLLM would do with them. */
export function cacheNotices(config: GatewayConfig): string[] {
  const settings = cacheSettings(config);
  if (!settings) return [];
  const notices: string[] = [];
  if (settings.type !== "local" && !settings.shared) {
    notices.push(`cache_params.type ${settings.type}: answers are cached in each router replica's memory (type local), not shared between replicas`);
  }
  const uncached = (config.litellm_settings.cache_params?.supported_call_types ?? []).filter((name) => !CACHEABLE.has(name));
  if (uncached.length > 0) notices.push(`cache_params.supported_call_types: ${uncached.join(", ")} are not cached by this gateway`);
  return notices;
}
