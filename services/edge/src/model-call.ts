import type { IncomingMessage, ServerResponse } from "node:http";
import { Code } from "@connectrpc/connect";
import {
  gatewayError,
  hashKey,
  LightAbortController,
  NUM_RETRIES_HEADER,
  rememberParsedBody,
  requestFallbacks,
  requestRetries,
  requestStreamTimeoutMs,
  requestTimeoutMs,
  routeAllowed,
  routeRefused,
  STREAM_TIMEOUT_HEADER,
  TIMEOUT_HEADER,
  type ErrorDetails,
} from "@gateway/common";
import { Access, type AuthorizeRequest, type AuthorizeResponse, type RateLimitState } from "@gateway/proto/keys/v1/keys_pb.js";
import type { CallType, CompleteResponse, Finished, Started } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "./context.js";
import { endUserOf } from "./end-user.js";
import { sessionOf } from "./session-id.js";
import { spendLogsMetadataOf } from "./spend-logs-metadata.js";
import { requestTagsOf, withKeyTags } from "./request-tags.js";
import { apiKeyOf, readJsonObject } from "./http.js";
import { logFailure } from "./observe.js";
import { addProviderRateLimits } from "./provider-rate-limits.js";
import { SSE_HEADERS, writeEvent, writeNamedEvent } from "./sse.js";

// The one flow of every route that calls a model (chat completions,
// embeddings, Anthropic messages): authorize, let the router run it, write
// the response or its stream, and always release the key's reservation.

type Body = Record<string, unknown>;

/** What differs between the model-calling routes: the API their bodies and answers speak. */
export interface ModelApi {
  callType: CallType;
  /** Whether the client asked for a stream; throws when the body asks in a way the API does not take. */
  streams(body: Body): boolean;
  /** The most tokens the body lets the model generate, for the key's reservation; 0 when unbounded. */
  maxTokens(body: Body): number;
  /** How many answers the body asks for, each up to maxTokens, for the key's reservation; unset: one. */
  answers?(body: Body): number;
  /** The event that tells a client mid-stream that the stream failed. */
  streamError(details: ErrorDetails): string;
  /** Ends a stream that completed (OpenAI sends [DONE] first). */
  endStream(res: ServerResponse): void;
  /** Client headers meant for the provider. */
  providerHeaders(req: IncomingMessage): Record<string, string>;
  /** Reads the body of an API that takes uploads (readUpload) or fills a field in (moderations' default model); unset: a JSON object as sent. */
  readBody?(req: IncomingMessage, limit: number): Promise<{ raw: Buffer; body: Body; contentType: string }>;
  /** The most prompt tokens the body can hold, for the key's reservation; unset: its size in bytes (every token is at least one). */
  promptBound?(raw: Buffer): number;
  /** The router needs the request's method and path with its query (the Files and Batch APIs). */
  sendsPath?: boolean;
  /** The call's cost is not known up front: its budgets need room left, not room for a price (AuthorizeRequest.cost_unknown). */
  costUnknown?: boolean;
}

/** What the APIs answered in one piece share: no stream, no tokens generated to bound, no client headers for the provider. */
export const ANSWERED_WHOLE = {
  streams: () => false,
  maxTokens: () => 0,
  streamError: () => "",
  endStream: (res: ServerResponse) => res.end(),
  providerHeaders: () => ({}),
} satisfies Partial<ModelApi>;

/** A 400 for a body field the API does not take. */
export function invalid(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** The body's "stream" flag, for the APIs that have one. */
export function streamFlag(body: Body): boolean {
  const stream = body["stream"];
  if (stream !== undefined && stream !== null && typeof stream !== "boolean") throw invalid("stream must be a boolean", "stream");
  return stream === true;
}

/** The most a reservation counts of a body's token cap (AuthorizeRequest.max_tokens is a uint32). */
export const MOST_TOKENS = 0xffffffff;

/**
 * A count a body gives (a cap on the tokens a model may write, a number of
 * answers): 0 when not given; a whole number of 1 or more, else refused here
 * (with nothing held yet) rather than by the provider; beyond what a
 * reservation counts, counted as that much.
 */
export function wholeCount(value: unknown, param: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw invalid(`${param} must be a whole number, 1 or more`, param);
  return Math.min(value, MOST_TOKENS);
}

/** OpenAI's rate-limit headers, for keys with limits. */
function rateLimitHeaders(state: RateLimitState | undefined, headers: Record<string, string>): void {
  if (!state) return;
  const reset = `${Math.ceil(state.resetMs / 1000)}s`;
  if (state.limitRequests > 0) {
    headers["x-ratelimit-limit-requests"] = String(state.limitRequests);
    headers["x-ratelimit-remaining-requests"] = String(state.remainingRequests);
    headers["x-ratelimit-reset-requests"] = reset;
  }
  if (state.limitTokens > 0) {
    headers["x-ratelimit-limit-tokens"] = String(state.limitTokens);
    headers["x-ratelimit-remaining-tokens"] = String(state.remainingTokens);
    headers["x-ratelimit-reset-tokens"] = reset;
  }
}

/** What the request used, as the router's Finished event reports it; settles the key's reservations. */
interface Used {
  cost: number;
  totalTokens: bigint;
}

interface Call extends RequestContext {
  api: ModelApi;
  auth: AuthorizeResponse;
  used: Used;
  /** When the edge took the request (performance.now()). */
  began: number;
  /** Gives the key's reservation back (once), with what `used` says by then. */
  release: () => void;
  /** The router's answer broke off before it said what the call used (the router stopped or died mid-stream). */
  cutShort: boolean;
}

// How long a call given up before it reported what it used waits for the
// router to settle it, before it is settled as if it used all it reserved.
const SETTLE_GIVEN_UP_AFTER_MS = 3_000;

// What a header value may hold as it is; Node refuses control characters and
// anything past Latin-1 (throwing after the provider has answered).
const HEADER_SAFE = /^[\x20-\x7e]*$/;

/** A header's value as sent, "" when it was not. */
const headerText = (value: string | string[] | undefined): string => (typeof value === "string" ? value : "");

/**
 * A name as a header value: as it is when it can be, percent-encoded when not.
 * A wildcard group answers any name a client sends ("openai/日本", or one with
 * a line break), and the response must not be lost over a header.
 */
function headerValue(name: string): string {
  return HEADER_SAFE.test(name) ? name : encodeURIComponent(name);
}

/**
 * Response headers LiteLLM clients know: which deployment answered, what it
 * cost, the key's limits and the provider's, and how long the request took
 * until its answer went out, of which the gateway's own part (all but the
 * providers' time).
 */
function routeHeaders(ctx: Call, started: Started | undefined, cost?: number): Record<string, string> {
  const headers: Record<string, string> = { "x-litellm-call-id": ctx.requestId };
  rateLimitHeaders(ctx.auth.rateLimit, headers);
  if (started) {
    const tookMs = performance.now() - ctx.began;
    headers["x-litellm-response-duration-ms"] = tookMs.toFixed(3);
    headers["x-litellm-overhead-duration-ms"] = Math.max(0, tookMs - started.providerMs).toFixed(3);
    headers["x-litellm-model-id"] = headerValue(started.deploymentId);
    headers["x-litellm-model-group"] = headerValue(started.modelGroup);
    headers["x-litellm-attempted-retries"] = String(started.attemptedRetries);
    headers["x-litellm-attempted-fallbacks"] = String(started.attemptedFallbacks);
    addProviderRateLimits(started.providerHeaders, headers);
    if (started.cacheKey !== "") headers["x-litellm-cache-key"] = started.cacheKey;
  }
  if (cost !== undefined) headers["x-litellm-response-cost"] = String(cost);
  return headers;
}

/**
 * What a kept answer covers besides its key: the model, and the end user,
 * tags and fallbacks when the request names any (a customer's and a tag's
 * block and limits change the answer, and each fallback is checked). Written
 * so that no two requests that differ share one: a scope with any of those
 * starts with a NUL, which a bare model name never does.
 */
function scopeOf(request: AuthorizeRequest): string {
  const { model, endUser, requestTags, fallbacks } = request;
  const bare = endUser === "" && requestTags.length === 0 && fallbacks.length === 0 && model.charCodeAt(0) !== 0;
  return bare ? model : `\u0000${JSON.stringify([model, endUser, requestTags, fallbacks])}`;
}

/** The keys service's answer, or the split edge's kept copy of it (auth-cache.ts), kept apart per scope (scopeOf). */
function authorize({ options }: RequestContext, request: AuthorizeRequest): Promise<AuthorizeResponse> | AuthorizeResponse {
  const cache = options.authCache;
  if (!cache) return options.peers.keys.authorize(request);
  const keyHash = hashKey(request.apiKey);
  const scope = scopeOf(request);
  return cache.get(keyHash, scope) ?? cache.ask(keyHash, scope, () => options.peers.keys.authorize(request));
}

/** Authorizes the request, lets the router run it, and writes its answer in the route's API. */
export async function callModel(ctx: RequestContext, api: ModelApi): Promise<void> {
  const began = performance.now();
  const { req, res, requestId, options } = ctx;
  const { keys, router } = options.peers;
  const { raw, body, contentType = "" }: { raw: Buffer; body: Body; contentType?: string } = api.readBody
    ? await api.readBody(req, options.maxBodyBytes)
    : await readJsonObject(req, options.maxBodyBytes);
  rememberParsedBody(raw, body);
  const model = body["model"];
  if (model === undefined || model === null || model === "") throw invalid("model is required", "model");
  if (typeof model !== "string") throw invalid("model must be a string", "model");
  // Read before the key is authorized, so a bad "stream" or header holds nothing.
  const streams = api.streams(body);
  // The router reads them (over the body's); checked here, so a bad one holds nothing either.
  const numRetries = headerText(req.headers[NUM_RETRIES_HEADER]);
  const timeout = headerText(req.headers[TIMEOUT_HEADER]);
  const streamTimeout = headerText(req.headers[STREAM_TIMEOUT_HEADER]);
  requestRetries(numRetries, undefined);
  requestTimeoutMs(timeout, undefined);
  requestStreamTimeoutMs(streamTimeout, undefined);
  const spendLogsMetadata = spendLogsMetadataOf(req, body);
  const fallbacks = requestFallbacks(body["fallbacks"]) as string[];
  const endUser = endUserOf(req, body);
  const ownTags = requestTagsOf(req, body);
  if (options.enforceUserParam && endUser === "") throw invalid("BadRequest since 'user' param not passed in. 'enforce_user_param'=True", "user");
  if (options.rejectClientTags && ownTags.length > 0) {
    throw invalid("this gateway takes no tags from clients (general_settings.reject_clientside_metadata_tags): leave out metadata.tags, tags and x-litellm-tags", "tags");
  }
  // Whole messages, not init objects: in one process they reach the
  // services as they are, with no copy made through protobuf's create().
  const auth = await authorize(ctx, {
    $typeName: "gateway.keys.v1.AuthorizeRequest",
    apiKey: apiKeyOf(ctx),
    requestId,
    model,
    promptTokens: api.promptBound ? api.promptBound(raw) : raw.length,
    maxTokens: api.maxTokens(body),
    answers: api.answers ? api.answers(body) : 0,
    access: Access.INFERENCE,
    endUser,
    requestTags: ownTags,
    fallbacks,
    fixedCost: 0,
    costUnknown: api.costUnknown === true,
    route: ctx.path,
  });
  const used: Used = { cost: 0, totalTokens: 0n };
  let released = false;
  // Only a request that holds something needs the extra call to give it back.
  const release = (usageUnknown = false) => {
    if (released || !auth.reserved) return;
    released = true;
    keys.release({ requestId, keyHash: auth.keyHash, holder: auth.holder, usageUnknown, ...used }).catch((err: unknown) => {
      options.logger.error({ requestId, err: (err as Error).message }, "releasing the key's reservation failed");
    });
  };
  // The keys service refuses the route before it takes any limit (AuthorizeRequest.route); this catches an
  // answer a split edge kept, or shared between requests in flight, from a call on another route.
  if (!routeAllowed(auth.allowedRoutes, ctx.path)) {
    release();
    throw routeRefused(ctx.path, auth.allowedRoutes);
  }
  // Field by field, not { ...ctx, api, … }: see withFields (@gateway/common).
  const call: Call = { req, res, path: ctx.path, requestId, options, api, auth, used, release, began, cutShort: false };
  const abort = new LightAbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on("close", onClose);
  try {
    const events = router.complete(
      {
        $typeName: "gateway.router.v1.CompleteRequest",
        requestId,
        callType: api.callType,
        body: raw,
        keyHash: auth.keyHash,
        keyAlias: auth.keyAlias,
        userId: auth.userId,
        teamId: auth.teamId,
        teamAlias: auth.teamAlias,
        providerHeaders: api.providerHeaders(req),
        reservationHolder: auth.reserved ? auth.holder : "",
        contentType,
        endUser,
        requestTags: withKeyTags(ownTags, auth.tags),
        model: auth.model === "" ? model : auth.model,
        sessionId: sessionOf(req, body),
        numRetries,
        timeout,
        streamTimeout,
        spendLogsMetadata,
        fallbacks: auth.fallbacks,
        method: api.sendsPath ? (req.method ?? "") : "",
        path: api.sendsPath ? (req.url ?? "") : "",
      },
      { signal: abort.signal },
    );
    if (streams) await writeStream(call, events);
    else await writeResponse(call, events);
  } finally {
    res.off("close", onClose);
    // Given up, or cut off by the router, before the router said what it
    // used (split, cutting the call cuts its events): the router settles it
    // with the keys service itself, as it books it. Should that never come
    // (the router died), it is settled as if it used all it reserved.
    if ((abort.signal.aborted || call.cutShort) && !released && auth.reserved) setTimeout(() => release(true), SETTLE_GIVEN_UP_AFTER_MS).unref();
    else release();
  }
}

type Events = AsyncIterable<CompleteResponse>;

/**
 * Takes the router's Finished event: records what the request used and
 * gives the key's reservation back, before the answer goes out, so that a
 * client's next request never finds this one's reservation still held.
 */
function finish(call: Call, finished: Finished): void {
  call.used.cost = finished.cost;
  call.used.totalTokens = finished.promptTokens + finished.completionTokens;
  call.release();
}

/**
 * Writes the answer as soon as the router reports the call finished (after
 * the answer, Finished is the last event of a call that did not stream),
 * without waiting for the router's call to end: in split mode that end is a
 * frame of its own. A failure after that is the router's to record.
 */
async function writeResponse(ctx: Call, events: Events): Promise<void> {
  let started: Started | undefined;
  let body: Uint8Array | undefined;
  let contentType = "application/json";
  try {
    for await (const { event } of events) {
      if (event.case === "started") started = event.value;
      else if (event.case === "response") body = event.value;
      else if (event.case === "media") ({ contentType, data: body } = event.value);
      else if (event.case === "finished") {
        finish(ctx, event.value);
        if (!body) continue;
        const headers = routeHeaders(ctx, started, event.value.cost);
        headers["content-type"] = contentType;
        headers["content-length"] = String(body.length);
        ctx.res.writeHead(200, headers);
        ctx.res.end(body);
      }
    }
  } catch (err) {
    if (!ctx.res.headersSent) throw err;
  }
  if (!ctx.res.headersSent) throw new Error("router finished without a response");
}

/**
 * Streams the router's chunks as server-sent events. Once the first byte is
 * out, a failure can no longer change the status: it is sent as the API's
 * error event and the stream ends without its end marker, so the client
 * knows it is incomplete.
 */
async function writeStream(ctx: Call, events: Events): Promise<void> {
  const { res } = ctx;
  try {
    for await (const { event } of events) {
      // A stream can still break after it reported what it used.
      if (event.case === "finished") finish(ctx, event.value);
      else if (event.case === "started") res.writeHead(200, Object.assign(routeHeaders(ctx, event.value), SSE_HEADERS));
      // The client has gone and callModel's onClose is cancelling the call:
      // read on without writing, up to the Finished event with what the
      // stream used until then (the router sends it before the stream ends,
      // and books as much in the ledger). Stopping here released the key's
      // reservation with nothing used, so clients walking away mid-stream
      // spent past its budget.
      else if (res.destroyed) continue;
      else if (event.case === "chunk") await writeEvent(res, event.value);
      else if (event.case === "namedChunk") await writeNamedEvent(res, event.value.name, event.value.data);
    }
  } catch (err) {
    if (!res.headersSent) throw err;
    // Past its start, a stream the provider broke still reports what it used first.
    ctx.cutShort = true;
    const details = logFailure(ctx, err);
    if (!res.destroyed) res.end(ctx.api.streamError(details));
    return;
  }
  if (!res.destroyed) ctx.api.endStream(res);
}
