import { groupAliases, type GatewayConfig, type GroupAlias, type ROUTING_STRATEGIES } from "@gateway/common";
import type { AllowedFailsPolicy, RetryPolicy } from "../failure-policies.js";

export type RoutingStrategyName = (typeof ROUTING_STRATEGIES)[number];

/** How the router picks, retries and falls back, from router_settings (and litellm_settings), per config load. */
export interface RouterSettings {
  strategy: RoutingStrategyName;
  numRetries: number;
  /** The least a retry waits, ms. */
  retryAfterMs: number;
  /** Retries per kind of failure (retry_policy), in place of numRetries for the kinds it names. */
  retryPolicy: RetryPolicy | undefined;
  /** model_group_retry_policy: a group's own retry policy, in place of retryPolicy. */
  groupRetryPolicies: ReadonlyMap<string, RetryPolicy>;
  /** Failures a deployment may have within a minute; one more cools it down. */
  allowedFails: number;
  /** allowed_fails_policy: allowedFails per kind of failure (a deployment's model_info may have its own). */
  allowedFailsPolicy: AllowedFailsPolicy | undefined;
  /** 0 when disable_cooldowns. */
  cooldownMs: number;
  /** At most this many fallback groups are tried per request. */
  maxFallbacks: number;
  fallbacks: ReadonlyMap<string, readonly string[]>;
  contextWindowFallbacks: ReadonlyMap<string, readonly string[]>;
  contentPolicyFallbacks: ReadonlyMap<string, readonly string[]>;
  /** For groups without fallbacks of their own. */
  defaultFallbacks: readonly string[];
  aliases: ReadonlyMap<string, GroupAlias>;
  /** latency-based-routing: deployments within this fraction of the fastest share the traffic. */
  lowestLatencyBuffer: number;
  /** enable_tag_filtering: a request goes to the deployments its tags name (tag-routing.ts). */
  tagFiltering: boolean;
  /** litellm_settings.check_provider_endpoint: wildcard groups are listed as their providers' models (wildcard-listing.ts). */
  checkProviderEndpoint: boolean;
}

// LiteLLM's defaults for allowed_fails, cooldown_time, max_fallbacks and
// num_retries (the OpenAI SDK's two retries, which LiteLLM's router takes
// over): a group of several deployments fails over without being told to.
const DEFAULT_ALLOWED_FAILS = 3;
const DEFAULT_COOLDOWN_S = 5;
const DEFAULT_MAX_FALLBACKS = 5;
const DEFAULT_NUM_RETRIES = 2;

function fallbackMap(list: readonly Record<string, string[]>[] | undefined): Map<string, readonly string[]> {
  const map = new Map<string, readonly string[]>();
  for (const rule of list ?? []) for (const [group, to] of Object.entries(rule)) map.set(group, to);
  return map;
}

export function routerSettings(config: GatewayConfig): RouterSettings {
  const r = config.router_settings;
  const l = config.litellm_settings;
  return {
    strategy: r.routing_strategy ?? "simple-shuffle",
    numRetries: r.num_retries ?? l.num_retries ?? DEFAULT_NUM_RETRIES,
    retryAfterMs: (r.retry_after ?? l.retry_after ?? 0) * 1000,
    retryPolicy: r.retry_policy ?? l.retry_policy,
    groupRetryPolicies: new Map(Object.entries(r.model_group_retry_policy ?? l.model_group_retry_policy ?? {})),
    allowedFails: r.allowed_fails ?? l.allowed_fails ?? DEFAULT_ALLOWED_FAILS,
    allowedFailsPolicy: r.allowed_fails_policy ?? l.allowed_fails_policy,
    cooldownMs: (r.disable_cooldowns ?? l.disable_cooldowns) === true ? 0 : (r.cooldown_time ?? l.cooldown_time ?? DEFAULT_COOLDOWN_S) * 1000,
    maxFallbacks: r.max_fallbacks ?? l.max_fallbacks ?? DEFAULT_MAX_FALLBACKS,
    fallbacks: fallbackMap(r.fallbacks ?? l.fallbacks),
    contextWindowFallbacks: fallbackMap(r.context_window_fallbacks ?? l.context_window_fallbacks),
    contentPolicyFallbacks: fallbackMap(r.content_policy_fallbacks ?? l.content_policy_fallbacks),
    defaultFallbacks: r.default_fallbacks ?? l.default_fallbacks ?? [],
    aliases: groupAliases(config),
    lowestLatencyBuffer: r.routing_strategy_args?.lowest_latency_buffer ?? 0,
    tagFiltering: r.enable_tag_filtering ?? false,
    checkProviderEndpoint: l.check_provider_endpoint ?? false,
  };
}
