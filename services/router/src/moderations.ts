import { validateEmbeddingsBody } from "./embeddings.js";
import { estimatedUsage, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { servedBy } from "./providers/index.js";
import type { ProviderCall } from "./providers/provider.js";

/** A moderation's input is checked as an embedding's: a non-empty string or array (of texts, or of text and image parts). */
export const validateModerationsBody = validateEmbeddingsBody;

/**
 * OpenAI moderations on the call's deployment: Started, the verdicts as the
 * provider gave them, Finished. OpenAI charges nothing for them and reports
 * no usage: they are booked at no tokens and no cost.
 */
export async function moderations(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const result = await servedBy(d, "moderations", "moderate")(call);
  return [started(d), response(result.response), finished(outcome, d, estimatedUsage("", 0))];
}
