import type { RouterSettings } from "./config/router-settings.js";
import type { Failure } from "./retry.js";

/**
 * The model groups to try, in order, after `group` failed this way: the
 * request's own (`asked`, LiteLLM's client-side fallbacks) for any failure
 * but the request's; without those, context_window_fallbacks for a prompt
 * too long, content_policy_fallbacks for a refusal, otherwise the group's
 * fallbacks (or default_fallbacks) when the failure was the deployments'.
 * At most max_fallbacks of them, never the failed group itself.
 */
export function fallbacksFor(group: string, failure: Failure, settings: RouterSettings, asked: readonly string[]): readonly string[] {
  let chain: readonly string[] | undefined;
  if (asked.length > 0) chain = failure.kind === "request" || failure.kind === "cancelled" ? undefined : asked;
  else if (failure.kind === "context_window") chain = settings.contextWindowFallbacks.get(group);
  else if (failure.kind === "content_policy") chain = settings.contentPolicyFallbacks.get(group);
  else if (failure.kind === "retryable" || failure.kind === "deployment") chain = settings.fallbacks.get(group) ?? settings.defaultFallbacks;
  return (chain ?? []).filter((g) => g !== group).slice(0, settings.maxFallbacks);
}
