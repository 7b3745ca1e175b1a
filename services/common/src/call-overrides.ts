import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

// LiteLLM's per-request overrides of a call's retries and timeout: the
// x-litellm-num-retries and x-litellm-timeout headers (read by the edge), or
// the body's num_retries and timeout (read by the router). A number, or a
// header's text of one; absent: the config's.

/** Retries a request may ask for; more would let one client hammer a failing provider. */
export const MOST_REQUEST_RETRIES = 10;

function numberOf(value: unknown): number {
  return typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
}

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** A request's retries within its model group, 0 to MOST_REQUEST_RETRIES; undefined when not given. */
export function requestRetries(value: unknown, param: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = numberOf(value);
  if (!Number.isInteger(n) || n < 0 || n > MOST_REQUEST_RETRIES) throw invalid(`${param} must be a whole number from 0 to ${MOST_REQUEST_RETRIES}`, param);
  return n;
}

/** A request's timeout per provider call, in seconds (more than 0); undefined when not given. */
export function requestTimeoutSeconds(value: unknown, param: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = numberOf(value);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`${param} must be a number of seconds, more than 0`, param);
  return n;
}
