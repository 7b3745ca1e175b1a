import { estimateTokens, messagesText } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asMasterKey, callerOf, sendJson } from "../http.js";
import { bad, callContentBody, isObject, type Json } from "./admin-request.js";

// LiteLLM's POST /spend/calculate, for any key: what a call costs, before it
// is made ({"model", "messages"}: the messages' tokens, estimated as the
// gateway estimates them, at the model's input price) or after
// ({"completion_response"}: the usage it reports, at its model's price).

const count = (v: unknown): number => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : 0);

/** The tokens a chat completion's usage reports, cached and cache-written ones included. */
function reportedUsage(usage: Json) {
  const details = isObject(usage["prompt_tokens_details"]) ? usage["prompt_tokens_details"] : {};
  return {
    promptTokens: count(usage["prompt_tokens"]),
    completionTokens: count(usage["completion_tokens"]),
    cachedTokens: count(details["cached_tokens"] ?? usage["cache_read_input_tokens"]),
    cacheWriteTokens: count(usage["cache_creation_input_tokens"]),
  };
}

function callOf(b: Json) {
  const { model, messages, completion_response: response } = b;
  if (model !== undefined && model !== null) {
    if (typeof model !== "string" || model === "") throw bad("model must be a model name", "model");
    if (!Array.isArray(messages)) throw bad("messages must be provided if 'model' is provided", "messages");
    return { model, promptTokens: estimateTokens(messagesText(messages)) };
  }
  if (isObject(response)) {
    if (typeof response["model"] !== "string" || response["model"] === "") throw bad("completion_response.model must be a model name", "completion_response");
    if (!isObject(response["usage"])) throw bad("completion_response.usage is required", "completion_response");
    return { model: response["model"], ...reportedUsage(response["usage"]) };
  }
  throw bad("Either 'model' or 'completion_response' must be provided", "model");
}

export async function calculateSpend(ctx: RequestContext): Promise<void> {
  await callerOf(ctx);
  const call = callOf(await callContentBody(ctx));
  const { cost } = await ctx.options.peers.router.calculateCost(call, asMasterKey(ctx));
  sendJson(ctx.res, 200, { cost });
}
