import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

// LiteLLM's per-request overrides of a call's retries and timeouts: the
// x-litellm-num-retries, x-litellm-timeout and x-litellm-stream-timeout
// headers (the edge checks them and passes them on as sent), over the body's
// num_retries, timeout and stream_timeout (the router reads both). A number,
// or a header's text of one; absent: the config's. And its client-side
// fallbacks: the body's model groups to try when its own fails, in place of
// the config's.

export const NUM_RETRIES_HEADER = "x-litellm-num-retries";
export const TIMEOUT_HEADER = "x-litellm-timeout";
export const STREAM_TIMEOUT_HEADER = "x-litellm-stream-timeout";

/** Retries a request may ask for; more would let one client hammer a failing provider. */
export const MOST_REQUEST_RETRIES = 10;

/** Fallbacks a request may name (the router tries at most router_settings.max_fallbacks of them). */
export const MOST_REQUEST_FALLBACKS = 20;

const NO_FALLBACKS: readonly string[] = Object.freeze([]);

function numberOf(value: unknown): number {
  return typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
}

function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** A request's retries within its model group (0 to MOST_REQUEST_RETRIES): its header's ("" when not sent), else its body's; undefined when neither. */
export function requestRetries(header: string, body: unknown): number | undefined {
  const [value, param] = header !== "" ? [header, NUM_RETRIES_HEADER] : [body, "num_retries"];
  if (value === undefined || value === null) return undefined;
  const n = numberOf(value);
  if (!Number.isInteger(n) || n < 0 || n > MOST_REQUEST_RETRIES) throw invalid(`${param} must be a whole number from 0 to ${MOST_REQUEST_RETRIES}`, param);
  return n;
}

/** The longest wait a timer takes (about 24.8 days): a longer timeout waits that long, where Node would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Seconds (more than 0) as milliseconds for a timer: at most MAX_TIMEOUT_MS. */
export const timeoutMs = (seconds: number): number => Math.min(seconds * 1000, MAX_TIMEOUT_MS);

/** Seconds asked for (more than 0), in milliseconds: the header's, else the body's; undefined when neither. */
function secondsMs(header: string, headerName: string, body: unknown, bodyName: string): number | undefined {
  const [value, param] = header !== "" ? [header, headerName] : [body, bodyName];
  if (value === undefined || value === null) return undefined;
  const n = numberOf(value);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`${param} must be a number of seconds, more than 0`, param);
  return timeoutMs(n);
}

/** A request's timeout per provider call, in milliseconds: its header's, else its body's; undefined when neither. */
export function requestTimeoutMs(header: string, body: unknown): number | undefined {
  return secondsMs(header, TIMEOUT_HEADER, body, "timeout");
}

/** A streaming request's wait for each next part of the stream, the first included, in milliseconds: its header's, else its body's; undefined when neither. */
export function requestStreamTimeoutMs(header: string, body: unknown): number | undefined {
  return secondsMs(header, STREAM_TIMEOUT_HEADER, body, "stream_timeout");
}

/** The body's "fallbacks": model group names, in order; empty when it names none. */
export function requestFallbacks(body: unknown): readonly string[] {
  if (body === undefined || body === null) return NO_FALLBACKS;
  if (!Array.isArray(body) || !body.every((name) => typeof name === "string" && name !== "")) {
    throw invalid('fallbacks must be a list of model names, e.g. ["gpt-4o-mini"]', "fallbacks");
  }
  if (body.length > MOST_REQUEST_FALLBACKS) throw invalid(`fallbacks may name at most ${MOST_REQUEST_FALLBACKS} models`, "fallbacks");
  return body as string[];
}
