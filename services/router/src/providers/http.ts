import { clientJson, withFields } from "@gateway/common";
import type { Dispatcher } from "undici";
import type { Deployment } from "../config/deployment.js";
import { SseReader, type SseEvent } from "../sse-reader.js";
import { ProviderError, type Json, type MediaResult, type ProviderCall } from "./provider.js";
import { Agent, errors, request } from "./undici-parts.js";

// One keep-alive pool per provider origin, shared by every deployment.
export const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256, pipelining: 1 });

export interface UpstreamRequest {
  url: string;
  headers: Record<string, string>;
  body: Json;
  /** The call it is made for: its signal aborts it, it hears of the provider's rate limits, and its deployment may add headers and fields. */
  call: Pick<ProviderCall, "signal" | "rateLimited"> & { deployment: Pick<Deployment, "extraHeaders" | "extraBody"> };
  /** The secret to scrub from anything the provider says back. */
  secret: string | undefined;
  /** Headers that depend on the body as sent (a request signature), made from its JSON text. */
  sign?: (body: string) => Record<string, string>;
}

// A key as providers echo it masked ("Incorrect API key provided:
// gsk_ab**********wxyz", xAI's "xai-ab****"): its first and last characters
// around a run of asterisks, whatever the key's prefix. A match starts only
// where a word does: tried at every character of a long word without
// asterisks (a client's value a provider quotes back), the pattern scanned
// to the word's end each time, seconds of the event loop for 100 KB.
const MASKED_KEY = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]*\*{3,}[A-Za-z0-9_*-]*/g;

/** Removes the deployment's key (and any other `secrets`), anything shaped like a key, and masked echoes of a key from provider text. */
function scrub(text: string, ...secrets: (string | undefined)[]): string {
  let cleaned = text;
  for (const secret of secrets) if (secret) cleaned = cleaned.split(secret).join("[redacted]");
  return cleaned.replace(/\b(sk|key|AIza)[-_][A-Za-z0-9_*-]{6,}/g, "[redacted]").replace(MASKED_KEY, "[redacted]");
}

function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  408: "timeout",
  413: "invalid_request_error",
  422: "invalid_request_error",
  429: "rate_limit_error",
};

// The deployment's extra_headers values are secrets too (a gateway's own
// auth header, say), as in the logs; one shorter than this (a version, a
// flag) is not, and taking it out would garble the message.
const SHORTEST_HEADER_SECRET = 8;

/** The values of the deployment's extra_headers that a provider's answer must not echo to the client. */
function headerSecrets(headers: Readonly<Record<string, string>> | undefined): string[] {
  return headers ? Object.values(headers).filter((value) => value.length >= SHORTEST_HEADER_SECRET) : [];
}

/**
 * What takes a call's secrets out of anything its provider says back, mid-stream
 * included: the key or token it was called with (`secret`) and the values of
 * its deployment's extra_headers.
 */
export function scrubberFor(secret: string | undefined, deployment: Pick<Deployment, "extraHeaders">): (text: string) => string {
  // The list is made only when something is scrubbed: a failure, not every stream.
  return (text) => scrub(text, secret, ...headerSecrets(deployment.extraHeaders));
}

/** Turns a provider's error response into a ProviderError, whatever its body looks like, its secrets taken out by `scrubbed`. */
async function errorFrom(response: Dispatcher.ResponseData, provider: string, scrubbed: (text: string) => string): Promise<ProviderError> {
  const text = (await readAtMost(response.body, MAX_ERROR_BYTES).catch(() => undefined))?.bytes.toString("utf8") ?? "";
  let message = text;
  let type: string | undefined;
  const detail: { code?: string; param?: string } = {};
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } | string; message?: unknown };
    const err = parsed.error;
    if (typeof err === "string") message = err;
    else if (err && typeof err.message === "string") {
      message = err.message;
      if (typeof err.type === "string") type = scrubbed(err.type);
      // Gemini's code is the HTTP status again: only names are worth passing on.
      if (typeof err.code === "string") detail.code = scrubbed(err.code);
      if (typeof err.param === "string") detail.param = scrubbed(err.param);
    } else if (typeof parsed.message === "string") message = parsed.message;
  } catch {
    // Not JSON: keep the raw text.
  }
  const status = response.statusCode;
  return new ProviderError(
    // Scrubbed before it is cut, so no secret is cut to a prefix that escapes the scrub.
    `${provider} error: ${scrubbed(message).slice(0, MAX_ERROR_MESSAGE_CHARS) || `status ${status}`}`,
    status,
    type ?? TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"),
    retryAfterMs(response.headers["retry-after"]),
    detail,
  );
}

/** Why a request that never got a response failed, as a ProviderError. */
export function transportError(err: unknown, provider: string, signal: AbortSignal): ProviderError {
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    if (reason?.name === "TimeoutError") return new ProviderError(`${provider} did not answer in time`, 408, "timeout");
    return new ProviderError("request cancelled", 499, "request_cancelled");
  }
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) {
    return new ProviderError(`${provider} did not answer in time`, 408, "timeout");
  }
  const code = (err as { code?: string }).code ?? "connection error";
  return new ProviderError(`${provider} is unreachable (${code})`, 503, "api_connection_error");
}

/**
 * `value`, or the call's ProviderError once its signal aborts first: a
 * call's deadline and its client's disconnect bound its wait for
 * credentials (a token or a role's keys being fetched) too. A value in hand
 * is given as it is.
 */
export function beforeAbort<T>(value: T | Promise<T>, provider: string, signal: AbortSignal): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  if (signal.aborted) return Promise.reject(transportError(signal.reason, provider, signal));
  return new Promise<T>((resolve, reject) => {
    const aborted = () => reject(transportError(signal.reason, provider, signal));
    signal.addEventListener("abort", aborted, { once: true });
    const settled = () => signal.removeEventListener("abort", aborted);
    value.then(
      (v) => {
        settled();
        resolve(v);
      },
      (err: unknown) => {
        settled();
        reject(err);
      },
    );
  });
}

// Provider URLs are the deployments' endpoints, made once per deployment:
// each is parsed once, not per request. The bound is against a config that
// keeps changing while the process runs.
const targets = new Map<string, { origin: string; path: string }>();
const MAX_TARGETS = 1024;

function target(href: string): { origin: string; path: string } {
  let known = targets.get(href);
  if (!known) {
    const url = new URL(href);
    known = { origin: url.origin, path: url.pathname + url.search };
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(href, known);
  }
  return known;
}

/** The rate-limit headers of a provider's answer (OpenAI's and Anthropic's names); undefined when it sent none. */
function rateLimitHeaders(headers: Dispatcher.ResponseData["headers"]): Record<string, string> | undefined {
  let found: Record<string, string> | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === "string" && (name.startsWith("x-ratelimit-") || name.startsWith("anthropic-ratelimit-"))) (found ??= {})[name] = value;
  }
  return found;
}

/** POSTs JSON upstream; resolves to the successful response, or throws a ProviderError. */
export async function postJson(provider: string, req: UpstreamRequest): Promise<Dispatcher.ResponseData> {
  const { deployment } = req.call;
  const body = clientJson(deployment.extraBody ? withFields(req.body, deployment.extraBody) : req.body);
  const headers = req.sign ? { "content-type": "application/json", ...req.headers, ...req.sign(body) } : { "content-type": "application/json", ...req.headers };
  return send(provider, req, "POST", headers, body);
}

/** POSTs a multipart form upstream (an upload: audio to transcribe); the deployment's extra_body does not apply. */
export async function postForm(provider: string, req: Omit<UpstreamRequest, "body" | "sign">, form: FormData): Promise<Dispatcher.ResponseData> {
  // Node's own encoder writes the parts and picks the boundary.
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  return send(provider, req, "POST", { "content-type": encoded.headers.get("content-type")!, ...req.headers }, body);
}

/** Sends a request of any method upstream with its body as given (or none); resolves to the successful response, or throws a ProviderError. */
export async function send(
  provider: string,
  req: Omit<UpstreamRequest, "body" | "sign">,
  method: Dispatcher.HttpMethod,
  headers: Record<string, string>,
  body: string | Buffer | null,
): Promise<Dispatcher.ResponseData> {
  const { origin, path } = target(req.url);
  const { signal, rateLimited, deployment } = req.call;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(agent, {
      origin,
      path,
      method,
      // The deployment's extra_headers go last: they may replace any other, its credential included.
      headers: deployment.extraHeaders ? { ...headers, ...deployment.extraHeaders } : headers,
      body,
      signal,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  } catch (err) {
    throw transportError(err, provider, signal);
  }
  if (response.statusCode >= 400) throw await errorFrom(response, provider, scrubberFor(req.secret, deployment));
  const limits = rateLimited && rateLimitHeaders(response.headers);
  if (limits) rateLimited!(limits);
  return response;
}

// The most a whole (not streamed) answer may take: a body that never ends
// would otherwise be held until the process runs out of memory. Twice what
// a stream event may take, for answers carrying several images.
const MAX_RESPONSE_BYTES = 64 * 2 ** 20;
// An error's body is read for its message, which is all that is kept of it,
// and of that no more than a client needs to see what went wrong, JSON or not.
const MAX_ERROR_BYTES = 2 ** 20;
const MAX_ERROR_MESSAGE_CHARS = 2000;

/** A body's bytes up to `limit`; `complete` is false, and the rest left unread, when it is longer. */
async function readAtMost(body: Dispatcher.ResponseData["body"], limit: number): Promise<{ bytes: Buffer; complete: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of body.iterator({ destroyOnReturn: true })) {
    size += (part as Buffer).length;
    if (size > limit) return { bytes: Buffer.concat(parts), complete: false };
    parts.push(part as Buffer);
  }
  return { bytes: Buffer.concat(parts, size), complete: true };
}

/** A body's bytes, or a ProviderError when it is longer than MAX_RESPONSE_BYTES. */
async function readBody(response: Dispatcher.ResponseData, provider: string): Promise<Buffer> {
  const length = Number(response.headers["content-length"]);
  // With a length the connection cannot carry more than it says: read at once.
  if (length <= MAX_RESPONSE_BYTES) return Buffer.from(await response.body.arrayBuffer());
  const { bytes, complete } = await readAtMost(response.body, MAX_RESPONSE_BYTES);
  if (!complete) throw new ProviderError(`${provider} sent an answer longer than ${MAX_RESPONSE_BYTES} bytes`, 502, "api_error");
  return bytes;
}

/** A successful response's body as it came (audio, say), and its media type; a broken body becomes a ProviderError. */
export async function readMedia(response: Dispatcher.ResponseData, provider: string, signal: AbortSignal): Promise<MediaResult> {
  const type = response.headers["content-type"];
  try {
    return { contentType: typeof type === "string" ? type : "application/octet-stream", bytes: await readBody(response, provider) };
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw transportError(err, provider, signal);
  }
}

/** A successful response's JSON body and the bytes it came as, mapping a broken body to a ProviderError. */
async function readJson(response: Dispatcher.ResponseData, provider: string, signal: AbortSignal): Promise<{ value: unknown; bytes: Buffer }> {
  let bytes: Buffer;
  try {
    bytes = await readBody(response, provider);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw transportError(err, provider, signal);
  }
  try {
    return { value: JSON.parse(bytes.toString("utf8")), bytes };
  } catch {
    throw new ProviderError(`${provider} sent a body that is not JSON`, 502, "api_error");
  }
}

// The most characters a stream event may take before it is complete: a line
// that never ends (or an event whose blank line never comes) would otherwise
// be held until the process runs out of memory. As much as a request may
// carry by default (max_request_size_mb); an image in an event fits.
export const MAX_EVENT_CHARS = 32 * 2 ** 20;

/** Cuts a stream's bytes into its events, whatever they arrive in; throws a ProviderError on bytes that are not events. */
export interface StreamDecoder<Event> {
  push(bytes: Uint8Array): Event[];
  /** What it holds of an event not yet complete (characters or bytes). */
  readonly pending: number;
  /** The events the stream's end completes. */
  end(): Event[];
}

/**
 * A successful streaming response's server-sent events; a connection that
 * breaks, or an event longer than MAX_EVENT_CHARS, becomes a ProviderError.
 */
export function readEvents(response: Dispatcher.ResponseData, provider: string, call: ProviderCall): AsyncGenerator<SseEvent> {
  return readStream(response, provider, call, new SseReader());
}

/** A successful streaming response's events, as `reader` cuts them; failures as readEvents'. */
export async function* readStream<Event>(response: Dispatcher.ResponseData, provider: string, call: ProviderCall, reader: StreamDecoder<Event>): AsyncGenerator<Event> {
  const { signal, progressed, held } = call;
  let read = false;
  try {
    for await (const bytes of response.body.iterator({ destroyOnReturn: false })) {
      progressed?.();
      const events = reader.push(bytes);
      if (reader.pending > MAX_EVENT_CHARS) throw new ProviderError(`${provider} sent a stream event longer than ${MAX_EVENT_CHARS} characters`, 502, "api_error");
      for (const event of events) {
        held?.(true);
        yield event;
        held?.(false);
      }
    }
    for (const event of reader.end()) yield event;
    read = true;
  } catch (err) {
    read = true;
    if (err instanceof ProviderError) {
      // An event too long, or not an event: the body is still open, and not
      // worth reading on. Destroying it reports an abort nobody waits for.
      response.body.once("error", () => {});
      response.body.destroy();
      throw err;
    }
    if (signal.aborted) throw transportError(err, provider, signal);
    // The provider answered, so it was reachable: its stream broke.
    const code = (err as { code?: string }).code ?? "connection error";
    throw new ProviderError(`${provider} stream broke before it was complete (${code})`, 502, "api_error");
  } finally {
    if (!read) readOut(response.body);
  }
}

// How long a stream left before its end may take to end before it is cut:
// after [DONE] the end follows at once, and a provider still generating
// (its stream left for another reason) is stopped soon.
const READ_OUT_MS = 1_000;

/**
 * Reads out a body its reader left before the end (an OpenAI stream's
 * [DONE] comes just before it) instead of destroying it: destroying builds
 * an AbortError and formats its stack trace. A body that does not end soon
 * is destroyed after all.
 */
function readOut(body: Dispatcher.ResponseData["body"]): void {
  const timer = setTimeout(() => body.destroy(), READ_OUT_MS);
  timer.unref();
  body.once("close", () => clearTimeout(timer));
  body.resume();
}

/** One stream event's data as a JSON object, or a ProviderError. */
export function eventJson(data: string, provider: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new ProviderError(`${provider} sent a stream event that is not JSON`, 502, "api_error");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProviderError(`${provider} sent a stream event that is not a JSON object`, 502, "api_error");
  }
  return value as Json;
}

/** GETs a JSON object from the provider on behalf of a deployment (a list of its models); a failure is a ProviderError. */
export async function getJson(provider: string, d: Deployment, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Json> {
  const response = await send(provider, { url, headers, call: { deployment: d, signal }, secret: d.apiKey }, "GET", headers, null);
  return readJsonObject(response, provider, signal);
}

/** The string `field` of each object in a list a provider sent (its models' ids); anything else in it is skipped. */
export function fieldsOf(list: unknown, field: string): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown) => {
    const value = item !== null && typeof item === "object" ? (item as Json)[field] : undefined;
    return typeof value === "string" && value !== "" ? [value] : [];
  });
}

/** Reads a successful response's body as a JSON object, or throws a ProviderError. */
export async function readJsonObject(response: Dispatcher.ResponseData, provider: string, signal: AbortSignal): Promise<Json> {
  return (await readJsonObjectBytes(response, provider, signal)).value;
}

/** Like readJsonObject, also giving the bytes it was parsed from, for passing the body on untouched. */
export async function readJsonObjectBytes(response: Dispatcher.ResponseData, provider: string, signal: AbortSignal): Promise<{ value: Json; bytes: Buffer }> {
  const { value, bytes } = await readJson(response, provider, signal);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProviderError(`${provider} sent a response that is not a JSON object`, 502, "api_error");
  }
  return { value: value as Json, bytes };
}

/** The stream ended without the provider's end marker: it broke. */
export function incompleteStream(provider: string): ProviderError {
  return new ProviderError(`${provider} stream ended before it was complete`, 502, "api_error");
}
