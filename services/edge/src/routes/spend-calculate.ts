import { estimateTokens, messagesText } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asMasterKey, callerOf, sendJson } from "../http.js";
import { bad, callContentBody, COUNT, isCount, isObject, type Json } from "./admin-request.js";

// LiteLLM's POST /spend/calculate, for any key: what a call costs, before it
// is made ({"model", "messages"}: the messages' tokens, estimated as the
// gateway estimates them, at the model's input price) or after
// ({"completion_response"}: the usage it reports, at its model's price).

/**
 * A count the usage reports (`field` of completion_response.usage): 0 when
 * absent or null, else a whole number within the bound the management
 * routes' limits take. The router's CalculateCost holds counts as uint32,
 * and the split services' wire keeps only a bigger number's low 32 bits:
 * 2^32 + 1 completion tokens were priced as one.
 */
function count(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const param = `completion_response.usage.${field}`;
  if (!isCount(value)) throw bad(`${param} must be ${COUNT}`, param);
  return value;
}

/** The tokens a chat completion's usage reports, cached and cache-written ones included. */
function reportedUsage(usage: Json) {
  const details = isObject(usage["prompt_tokens_details"]) ? usage["prompt_tokens_details"] : {};
  const cached = details["cached_tokens"];
  return {
    promptTokens: count(usage["prompt_tokens"], "prompt_tokens"),
    completionTokens: count(usage["completion_tokens"], "completion_tokens"),
    cachedTokens: cached === undefined || cached === null ? count(usage["cache_read_input_tokens"], "cache_read_input_tokens") : count(cached, "prompt_tokens_details.cached_tokens"),
    cacheWriteTokens: count(usage["cache_creation_input_tokens"], "cache_creation_input_tokens"),
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
