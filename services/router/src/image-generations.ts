import { Code } from "@connectrpc/connect";
import { gatewayError, imagePrice, pricedModel } from "@gateway/common";
import { estimatedUsage, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import type { Json, ProviderCall, Usage } from "./providers/provider.js";

export function validateImageGenerationsBody(body: Json): void {
  const prompt = body["prompt"];
  if (typeof prompt !== "string" || prompt === "") {
    throw gatewayError("prompt must be a non-empty string", Code.InvalidArgument, { type: "invalid_request_error", param: "prompt" });
  }
}

/**
 * OpenAI image generation on the call's deployment: Started, the answer,
 * Finished. GPT Image models are priced by the tokens they report; DALL·E
 * by each image it returned, at the quality and size asked.
 */
export async function imageGenerations(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const adapter = adapterFor(d);
  if (!adapter.imageGenerations) {
    throw gatewayError(`model ${d.modelGroup} does not generate images (${d.provider} deployment ${d.id})`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "model",
    });
  }
  const result = await adapter.imageGenerations(call);
  const usage: Usage = result.usage ?? estimatedUsage("", 0);
  const perImage = imagePrice(pricedModel(d.providerModel, [d.entry.model_info, d.entry.litellm_params]), call.body["quality"], call.body["size"]);
  if (perImage !== undefined) usage.unitCost = perImage * (Array.isArray(result.response["data"]) ? result.response["data"].length : 0);
  return [started(d), response(result.response), finished(outcome, d, usage)];
}
