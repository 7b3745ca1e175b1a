import { Code, ConnectError } from "@connectrpc/connect";
import { ProviderError } from "./providers/provider.js";

/**
 * What a failed attempt means for the rest of the request:
 * - retryable: worth another attempt in the group (429, timeouts, 5xx, refused connections);
 * - deployment: this deployment is unusable (its key, its model) but another may do;
 * - context_window / content_policy: the request itself was refused by the model;
 * - request: the request is wrong wherever it goes;
 * - cancelled: the client went away.
 */
export type FailureKind = "retryable" | "deployment" | "context_window" | "content_policy" | "request" | "cancelled";

export interface Failure {
  kind: FailureKind;
  status: number;
  /** The provider's retry-after, ms. */
  retryAfterMs: number | undefined;
}

// Providers word these differently; their messages are the only common ground.
const CONTEXT_WINDOW =
  /context[ _]length|context window|maximum context|prompt is too long|input is too long|too many tokens|exceeds the maximum number of tokens/i;
const CONTENT_POLICY = /content[ _-]?(policy|filter|management)|responsibleaipolicyviolation/i;

const STATUS_BY_CODE: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.DeadlineExceeded]: 504,
  [Code.ResourceExhausted]: 429,
  [Code.Canceled]: 499,
  [Code.Unavailable]: 503,
};

function kindOf(status: number, text: string): FailureKind {
  if (status === 499) return "cancelled";
  if (status === 408 || status === 429 || status >= 500) return "retryable";
  if (status === 401 || status === 403 || status === 404) return "deployment";
  if (CONTEXT_WINDOW.test(text)) return "context_window";
  if (CONTENT_POLICY.test(text)) return "content_policy";
  return "request";
}

export function classify(err: unknown, clientGone: boolean): Failure {
  if (clientGone) return { kind: "cancelled", status: 499, retryAfterMs: undefined };
  if (err instanceof ProviderError) {
    return { kind: kindOf(err.status, `${err.type} ${err.message}`), status: err.status, retryAfterMs: err.retryAfterMs };
  }
  // Errors of our own making (an invalid body, an adapter that cannot serve the call type) fail everywhere.
  const ce = ConnectError.from(err);
  const status = STATUS_BY_CODE[ce.code] ?? 500;
  return { kind: status >= 500 && ce.code !== Code.Unavailable ? "request" : kindOf(status, ce.rawMessage), status, retryAfterMs: undefined };
}

/** Whether a failure counts against the deployment (toward its cooldown). */
export function blamesDeployment(f: Failure): boolean {
  return f.kind === "retryable" || f.kind === "deployment";
}

const INITIAL_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;
// A provider asking for a longer pause than this is not waited for within a request.
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long to wait before retrying the same deployment (retry number `retry`,
 * 0 for the first): exponential backoff with jitter, at least the provider's
 * retry-after and router_settings.retry_after. Undefined when the provider
 * asks for a longer pause than a request should wait (a quota used up for
 * the day): the same deployment is then not retried.
 */
export function backoffMs(retry: number, providerRetryAfterMs: number | undefined, minimumMs: number): number | undefined {
  if (providerRetryAfterMs !== undefined && providerRetryAfterMs > MAX_RETRY_AFTER_MS) return undefined;
  const exponential = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** retry);
  // Jitter spreads retries of requests that failed together over the latter half of the window.
  const jittered = exponential * (0.5 + Math.random() * 0.5);
  return Math.max(jittered, providerRetryAfterMs ?? 0, minimumMs);
}
