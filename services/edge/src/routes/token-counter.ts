import { estimateTokens, messagesText } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asMasterKey, callerOf, sendJson } from "../http.js";
import { bad, callContentBody } from "./admin-request.js";
import { jsonOfBytes } from "./model-admin.js";

// LiteLLM's POST /utils/token_counter, for any key: the tokens of a chat
// request's messages, or of a prompt, estimated as the gateway estimates a
// call whose provider reports no usage (about four characters a token).

/** What a model group's first deployment calls, as LiteLLM names it; a name no group has stands for itself. */
async function modelUsed(ctx: RequestContext, model: string): Promise<string> {
  const { models } = await ctx.options.peers.router.getModelInfo({ id: "" }, asMasterKey(ctx));
  for (const m of models) {
    const deployment = jsonOfBytes(m.json) as { model_name?: string; litellm_params?: { model?: string } };
    if (deployment.model_name === model && deployment.litellm_params?.model) return deployment.litellm_params.model;
  }
  return model;
}

export async function tokenCounter(ctx: RequestContext): Promise<void> {
  await callerOf(ctx);
  const { model, messages, prompt } = await callContentBody(ctx);
  if (typeof model !== "string" || model === "") throw bad("model is required", "model");
  let text: string;
  if (Array.isArray(messages)) text = messagesText(messages);
  else if (typeof prompt === "string") text = prompt;
  else throw bad("give messages (a list) or prompt (a string)", "messages");
  sendJson(ctx.res, 200, {
    total_tokens: estimateTokens(text),
    request_model: model,
    model_used: await modelUsed(ctx, model),
    tokenizer_type: "character_estimate",
  });
}
