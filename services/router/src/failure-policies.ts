import type { ALLOWED_FAILS_POLICY_ERRORS, RETRY_POLICY_ERRORS } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { RouterSettings } from "./config/router-settings.js";
import { ProviderError } from "./providers/provider.js";
import type { Failure } from "./retry.js";

// LiteLLM's retry_policy, model_group_retry_policy and allowed_fails_policy:
// how many retries, and how many failures a minute before a cooldown, per
// kind of failure, named by the exception class LiteLLM raises for it.

/** The exception classes the policies name. */
export type PolicyError = (typeof ALLOWED_FAILS_POLICY_ERRORS)[number];
type RetryPolicyError = (typeof RETRY_POLICY_ERRORS)[number];

export type RetryPolicy = Readonly<Partial<Record<`${RetryPolicyError}Retries`, number>>>;
export type AllowedFailsPolicy = Readonly<Partial<Record<`${PolicyError}AllowedFails`, number>>>;

/**
 * The class LiteLLM names a provider's failure with; undefined for failures
 * no policy names: the gateway's own (a request it cannot send), the client
 * leaving, and an unreachable provider (LiteLLM's APIConnectionError).
 */
export function policyErrorOf(failure: Failure, error: unknown): PolicyError | undefined {
  if (!(error instanceof ProviderError) || error.type === "api_connection_error") return undefined;
  if (failure.kind === "content_policy") return "ContentPolicyViolationError";
  switch (failure.status) {
    case 400:
    case 413:
    case 422:
      return "BadRequestError";
    case 401:
      return "AuthenticationError";
    case 404:
      return "NotFoundError";
    case 408:
    case 504:
      return "TimeoutError";
    case 429:
      return "RateLimitError";
    case 500:
      return "InternalServerError";
    case 502:
      return "BadGatewayError";
    case 503:
    case 529:
      return "ServiceUnavailableError";
    default:
      return undefined;
  }
}

/**
 * The retries a failure earns in `group` by the retry policy (the group's
 * own, else the config's); undefined when the policy names none for it. A
 * content policy refusal the policy has no count for takes BadRequestError's,
 * the class it is a kind of.
 */
export function policyRetries(settings: RouterSettings, group: string, error: PolicyError | undefined): number | undefined {
  const policy = settings.groupRetryPolicies.get(group) ?? settings.retryPolicy;
  if (!policy || !error) return undefined;
  const own = policy[`${error}Retries` as keyof RetryPolicy];
  return own ?? (error === "ContentPolicyViolationError" ? policy.BadRequestErrorRetries : undefined);
}

/** The failures a minute `d` may have before a cooldown, for a failure of this class: its own policy's, else the config's, else allowed_fails. */
export function allowedFails(settings: RouterSettings, d: Deployment, error: PolicyError | undefined): number {
  const policy: AllowedFailsPolicy | undefined = d.entry.model_info?.allowed_fails_policy ?? settings.allowedFailsPolicy;
  return (error && policy?.[`${error}AllowedFails`]) ?? settings.allowedFails;
}
