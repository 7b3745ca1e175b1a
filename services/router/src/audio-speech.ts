import { characterPrice, ownUnitPrice, pricedModel } from "@gateway/common";
import { estimatedUsage, finished, media, started, type CallEvent, type Outcome } from "./outcome.js";
import { servedBy } from "./providers/index.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { badRequest } from "./translate/content.js";

export function validateSpeechBody(body: Json): void {
  const input = body["input"];
  if (typeof input !== "string" || input === "") {
    throw badRequest("input must be a non-empty string", "input");
  }
}

/**
 * OpenAI text to speech on the call's deployment: Started, the audio as the
 * provider sent it, Finished. Priced by the character read, at the
 * deployment's input_cost_per_character or the list's (TTS, TTS HD); the
 * answer, being audio, reports no tokens.
 */
export async function speech(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const { contentType, bytes } = await servedBy(d, "speech", "turn text into speech")(call);
  const usage = estimatedUsage("", 0);
  const own = [d.entry.model_info, d.entry.litellm_params];
  const perCharacter = ownUnitPrice("input_cost_per_character", own) ?? characterPrice(pricedModel(d.providerModel, own));
  if (perCharacter !== undefined) usage.unitCost = perCharacter * [...(call.body["input"] as string)].length;
  return [started(d), media(contentType, bytes), finished(outcome, d, usage)];
}
