import { Code, ConnectError } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import { ProviderError } from "./providers/provider.js";

function codeFor(status: number): Code {
  if (status === 400 || status === 413 || status === 422) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.NotFound;
  if (status === 408 || status === 504) return Code.DeadlineExceeded;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 499) return Code.Canceled;
  return Code.Unavailable;
}

/** Anything a provider call threw, as the ConnectError the edge turns into an OpenAI error. */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ProviderError) {
    return gatewayError(err.message, codeFor(err.status), {
      type: err.type,
      status: err.status,
      ...(err.retryAfterMs !== undefined && { headers: { "retry-after": String(Math.ceil(err.retryAfterMs / 1000)) } }),
    });
  }
  return ConnectError.from(err);
}
