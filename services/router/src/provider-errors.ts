import { Code, ConnectError } from "@connectrpc/connect";
import { gatewayError, serviceError } from "@gateway/common";
import { ProviderError } from "./providers/provider.js";

function codeFor(status: number): Code {
  if (status === 400 || status === 413 || status === 422) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 504) return Code.DeadlineExceeded;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 499) return Code.Canceled;
  return Code.Unavailable;
}

/**
 * The status the client gets for a provider's: its own 4xx as they are (429
 * with its retry-after), a timeout as 504, an unavailable provider as 503
 * (Anthropic's 529 "overloaded" as itself: its clients know it), and any
 * other provider-side failure as 502: the gateway is the server the client
 * talks to, and it got a bad answer upstream.
 */
function clientStatus(status: number): number {
  if (status === 408 || status === 504) return 504;
  if (status === 503 || status === 529) return status;
  if (status >= 500) return 502;
  return status;
}

/**
 * Anything a call threw, as the ConnectError the edge turns into an OpenAI
 * error: a provider's failure by its status; a database that cannot be
 * reached (a deployment's rate-limit lease, a budget's) as unavailable (503),
 * not as a bug.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ProviderError) {
    const status = clientStatus(err.status);
    return gatewayError(err.message, codeFor(status), {
      type: err.type,
      status,
      ...err.detail,
      ...(err.retryAfterMs !== undefined && { headers: { "retry-after": String(Math.ceil(err.retryAfterMs / 1000)) } }),
    });
  }
  return serviceError(err);
}
