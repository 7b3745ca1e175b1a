import { Code } from "@connectrpc/connect";
import { describeError, gatewayError } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType, type CompleteResponse, type Started } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, parseJsonObject, readBody } from "../http.js";
import { errorBody } from "../openai-errors.js";
import { SSE_HEADERS, writeDone, writeEvent } from "../sse.js";

function positiveInt(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : 0;
}

/** Response headers LiteLLM clients know: which deployment answered, what it cost. */
function routeHeaders(requestId: string, started: Started | undefined, cost?: number): Record<string, string> {
  const headers: Record<string, string> = { "x-litellm-call-id": requestId };
  if (started) {
    headers["x-litellm-model-id"] = started.deploymentId;
    headers["x-litellm-model-group"] = started.modelGroup;
    headers["x-litellm-attempted-retries"] = String(started.attemptedRetries);
    headers["x-litellm-attempted-fallbacks"] = String(started.attemptedFallbacks);
  }
  if (cost !== undefined) headers["x-litellm-response-cost"] = String(cost);
  return headers;
}

/** POST /v1/chat/completions: authorize, let the router run it, write the OpenAI response. */
export async function chatCompletions(ctx: RequestContext): Promise<void> {
  const { req, res, requestId, options } = ctx;
  const { keys, router } = options.peers;
  const raw = await readBody(req, options.maxBodyBytes);
  const body = parseJsonObject(raw);
  if (typeof body["model"] !== "string" || body["model"] === "") {
    throw gatewayError("model is required", Code.InvalidArgument, { type: "invalid_request_error", param: "model" });
  }
  const auth: AuthorizeResponse = await keys.authorize({
    apiKey: apiKeyOf(req),
    requestId,
    model: body["model"],
    // Every token is at least one byte, so the body's size bounds the prompt.
    promptTokens: raw.length,
    maxTokens: positiveInt(body["max_completion_tokens"]) || positiveInt(body["max_tokens"]),
    access: Access.INFERENCE,
  });
  const abort = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on("close", onClose);
  try {
    const events = router.complete(
      { requestId, callType: CallType.CHAT_COMPLETIONS, body: raw, keyHash: auth.keyHash, keyAlias: auth.keyAlias, userId: auth.userId, teamId: auth.teamId },
      { signal: abort.signal },
    );
    if (body["stream"] === true) await writeStream(ctx, events);
    else await writeResponse(ctx, events);
  } finally {
    res.off("close", onClose);
    keys.release({ requestId, keyHash: auth.keyHash }).catch((err: unknown) => {
      options.logger.error({ requestId, err: (err as Error).message }, "releasing the key's reservation failed");
    });
  }
}

type Events = AsyncIterable<CompleteResponse>;

async function writeResponse(ctx: RequestContext, events: Events): Promise<void> {
  let started: Started | undefined;
  let body: Uint8Array | undefined;
  let cost: number | undefined;
  for await (const { event } of events) {
    if (event.case === "started") started = event.value;
    else if (event.case === "response") body = event.value;
    else if (event.case === "finished") cost = event.value.cost;
  }
  if (!body) throw new Error("router finished without a response");
  ctx.res.writeHead(200, { ...routeHeaders(ctx.requestId, started, cost), "content-type": "application/json", "content-length": body.length });
  ctx.res.end(body);
}

/**
 * Streams chunks as server-sent events. Once the first byte is out, a failure
 * can no longer change the status: it is sent as an error event and the
 * stream ends without [DONE], so the client knows it is incomplete.
 */
async function writeStream(ctx: RequestContext, events: Events): Promise<void> {
  const { res } = ctx;
  try {
    for await (const { event } of events) {
      if (event.case === "started") res.writeHead(200, { ...routeHeaders(ctx.requestId, event.value), ...SSE_HEADERS });
      else if (event.case === "chunk") await writeEvent(res, event.value);
      if (res.destroyed) return;
    }
  } catch (err) {
    if (!res.headersSent) throw err;
    if (!res.destroyed) res.end(`data: ${errorBody(describeError(err))}\n\n`);
    return;
  }
  writeDone(res);
}
