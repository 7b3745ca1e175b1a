import { imagePrice, imageTokenCost, ownUnitPrice, pricedModel, setsOwnPrice, type PriceOverride } from "@gateway/common";
import { estimatedUsage, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { servedBy } from "./providers/index.js";
import type { Json, ProviderCall, Usage } from "./providers/provider.js";
import { badRequest } from "./translate/content.js";
import { count } from "./translate/usage.js";

export function validateImageGenerationsBody(body: Json): void {
  if (typeof body["prompt"] !== "string" || body["prompt"] === "") throw badRequest("prompt must be a non-empty string", "prompt");
}

/** An edit's upload: a prompt, and the image (or images, GPT Image's "image[]") to edit. */
export function validateImageEditsBody(body: Json): void {
  validateImageGenerationsBody(body);
  const image = body["image"] ?? body["image[]"];
  if (!(image instanceof Blob) && !(Array.isArray(image) && image.length > 0 && image.every((i) => i instanceof Blob))) {
    throw badRequest("image must be an uploaded image file (multipart/form-data)", "image");
  }
}

/**
 * What an image answer cost: by each image returned at the deployment's own
 * output_cost_per_image; by its tokens at its own token prices (undefined:
 * those apply); else as the list prices the model: GPT Image by its text,
 * image and output tokens, DALL·E by each image at the quality and size
 * asked; undefined for a model the list does not know.
 */
function imagesCost(providerModel: string, own: (PriceOverride | undefined)[], body: Json, answer: Json): number | undefined {
  const images = Array.isArray(answer["data"]) ? answer["data"].length : 0;
  const perImage = ownUnitPrice("output_cost_per_image", own);
  if (perImage !== undefined) return perImage * images;
  if (setsOwnPrice(own)) return undefined;
  const model = pricedModel(providerModel, own);
  const usage = (answer["usage"] ?? {}) as Json;
  const details = (usage["input_tokens_details"] ?? {}) as Json;
  const text = count(details["text_tokens"]);
  const image = count(details["image_tokens"]);
  // Without the split, every input token is taken as text: generations have no other.
  const tokens = { text: text + image === 0 ? count(usage["input_tokens"]) : text, image, output: count(usage["output_tokens"]) };
  const byTokens = imageTokenCost(model, tokens);
  if (byTokens !== undefined) return byTokens;
  const listed = imagePrice(model, body["quality"], body["size"]);
  return listed === undefined ? undefined : listed * images;
}

function imageCall(method: "imageGenerations" | "imageEdits", doesNot: string) {
  return async (call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> => {
    const d = call.deployment;
    outcome.deployment = d;
    const result = await servedBy(d, method, doesNot)(call);
    const usage: Usage = result.usage ?? estimatedUsage("", 0);
    const cost = imagesCost(d.providerModel, [d.entry.model_info, d.entry.litellm_params], call.body, result.response);
    if (cost !== undefined) usage.unitCost = cost;
    return [started(d), response(result.response), finished(outcome, d, usage)];
  };
}

/** OpenAI image generation on the call's deployment: Started, the answer, Finished. */
export const imageGenerations = imageCall("imageGenerations", "generate images");

/** OpenAI image edits (an upload) on the call's deployment: Started, the answer, Finished. */
export const imageEdits = imageCall("imageEdits", "edit images");
