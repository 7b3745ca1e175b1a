import { clientJson, estimateTokens, validateMessagesBody } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { anthropicDetails, anthropicErrorBody } from "../anthropic-errors.js";
import { sendError } from "../openai-errors.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, readJsonObject, sendJson } from "../http.js";
import { callModel, invalid, wholeCount, streamFlag, type ModelApi } from "../model-call.js";

const MESSAGES: ModelApi = {
  callType: CallType.MESSAGES,
  streams: streamFlag,
  maxTokens: (body) => wholeCount(body["max_tokens"], "max_tokens"),
  streamError: (details) => `event: error\ndata: ${anthropicErrorBody(details)}\n\n`,
  // Anthropic's streams end with their message_stop event, and no marker after it.
  endStream: (res) => res.end(),
  providerHeaders: (req) => {
    // Beta features are the client's to opt in to, on deployments that speak Messages natively.
    const beta = req.headers["anthropic-beta"];
    return beta === undefined ? {} : { "anthropic-beta": Array.isArray(beta) ? beta.join(",") : beta };
  },
};

/**
 * Anthropic's API names every response, answer or error, in a request-id
 * header, which its SDKs show as the response's request id: here, the id the
 * ledger and x-litellm-call-id use.
 */
function nameRequest(ctx: RequestContext): void {
  ctx.res.setHeader("request-id", ctx.requestId);
}

/**
 * POST /v1/messages: Anthropic's Messages API over any model in the config,
 * with the same keys, limits and ledger as chat completions, and errors in
 * Anthropic's shape.
 */
export async function messages(ctx: RequestContext): Promise<void> {
  nameRequest(ctx);
  try {
    await callModel(ctx, MESSAGES);
  } catch (err) {
    ctx.options.logger.debug({ requestId: ctx.requestId, err: (err as Error).message }, "request failed");
    sendError(ctx.res, err, { "x-litellm-call-id": ctx.requestId }, anthropicErrorBody, anthropicDetails);
  }
}

// What Anthropic's guide gives a full-size image; the request does not say an image's size.
const IMAGE_TOKENS = 1_600;

/** The text of an Anthropic request's input (system, messages, tools), and how many images it holds. */
function inputOf(body: Record<string, unknown>): { text: string; images: number } {
  let text = "";
  let images = 0;
  const add = (content: unknown) => {
    if (typeof content === "string") text += content;
    if (!Array.isArray(content)) return;
    for (const block of content as unknown[]) {
      if (block === null || typeof block !== "object") continue;
      const b = block as Record<string, unknown>;
      if (b["type"] === "image") images += 1;
      else if (b["type"] === "tool_use") text += clientJson(b["input"] ?? {}, "messages");
      else if (b["type"] === "tool_result") add(b["content"]);
      else if (typeof b["text"] === "string") text += b["text"];
    }
  };
  add(body["system"]);
  for (const message of body["messages"] as unknown[]) add((message as { content?: unknown } | null)?.content);
  if (Array.isArray(body["tools"])) text += clientJson(body["tools"], "tools");
  return { text, images };
}

/**
 * POST /v1/messages/count_tokens: Anthropic's count of a request's input
 * tokens, as LiteLLM serves it. Counted here, as the ledger counts a
 * provider that reports no usage (about four characters a token), so it is
 * an estimate, not the provider's tokenizer. The body is refused as
 * /v1/messages refuses it, with the same errors, as Anthropic's endpoint
 * does: a count of content Anthropic would not take would pass for one it
 * could serve. The model is checked as /v1/messages checks it: the key (its
 * team, its organization) must be allowed it, which the key lookup checks,
 * and a model group must answer it, which the router says.
 */
export async function countTokens(ctx: RequestContext): Promise<void> {
  nameRequest(ctx);
  try {
    const { body } = await readJsonObject(ctx.req, ctx.options.maxBodyBytes);
    const model = body["model"];
    if (typeof model !== "string" || model === "") throw invalid("model is required", "model");
    const { peers } = ctx.options;
    const auth = await peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.LOOKUP, model });
    // After the key, as the router checks a /v1/messages body: a bad key is a 401 whatever the body holds.
    validateMessagesBody(body);
    // The key's alias (or model_alias_map) may have renamed it, as for a call.
    await peers.router.resolveModel({ model: auth.model === "" ? model : auth.model });
    const { text, images } = inputOf(body);
    sendJson(ctx.res, 200, { input_tokens: estimateTokens(text) + images * IMAGE_TOKENS });
  } catch (err) {
    sendError(ctx.res, err, {}, anthropicErrorBody, anthropicDetails);
  }
}
