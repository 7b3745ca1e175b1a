import { ownUnitPrice, pricedModel, transcriptionCost, type TranscriptionUsage } from "@gateway/common";
import { estimatedUsage, finished, media, started, type CallEvent, type Outcome } from "./outcome.js";
import { servedBy } from "./providers/index.js";
import { ProviderError, type Json, type MediaResult, type ProviderCall, type Usage } from "./providers/provider.js";
import { badRequest } from "./translate/content.js";
import { count } from "./translate/usage.js";

export function validateTranscriptionBody(body: Json): void {
  if (!(body["file"] instanceof Blob)) {
    throw badRequest("file must be an uploaded audio file (multipart/form-data)", "file");
  }
}

/** What a JSON answer's usage says was heard and written: Whisper's seconds, or GPT-4o transcription's tokens. */
function usageOf(answer: Json): TranscriptionUsage {
  const usage = (answer["usage"] ?? {}) as Json;
  const details = (usage["input_token_details"] ?? {}) as Json;
  const seconds = count(usage["seconds"]) || count(answer["duration"]);
  const audioTokens = count(details["audio_tokens"]);
  const textTokens = count(details["text_tokens"]);
  // Without the split, every input token is taken as audio, the dearer kind.
  const unsplit = audioTokens + textTokens === 0 ? count(usage["input_tokens"]) : 0;
  return { seconds, audioTokens: audioTokens + unsplit, textTokens, outputTokens: count(usage["output_tokens"]) };
}

function jsonOf(bytes: Uint8Array, provider: string): Json {
  try {
    const value: unknown = JSON.parse(Buffer.from(bytes).toString("utf8"));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Json;
  } catch {
    // Said to be JSON, and not: the provider's fault, as below.
  }
  throw new ProviderError(`${provider} sent a transcription that is not a JSON object`, 502, "api_error");
}

/**
 * OpenAI speech to text on the call's deployment: Started, the answer as it
 * came, Finished. Plain text is asked for as JSON and sent on as text, so
 * that its usage, which only JSON carries, is booked too.
 */
export async function transcription(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const transcribe = servedBy(d, "transcription", "transcribe audio");
  const asText = call.body["response_format"] === "text";
  let answer: MediaResult = await transcribe(asText ? { ...call, body: { ...call.body, response_format: "json" } } : call);
  const usage: Usage = estimatedUsage("", 0);
  if (answer.contentType.startsWith("application/json")) {
    const json = jsonOf(answer.bytes, d.provider);
    const used = usageOf(json);
    usage.promptTokens = used.audioTokens + used.textTokens;
    usage.completionTokens = used.outputTokens;
    const own = [d.entry.model_info, d.entry.litellm_params];
    const perSecond = ownUnitPrice("input_cost_per_second", own);
    const cost = perSecond !== undefined ? perSecond * used.seconds : transcriptionCost(pricedModel(d.providerModel, own), used);
    if (cost !== undefined) usage.unitCost = cost;
    if (asText) answer = { contentType: "text/plain; charset=utf-8", bytes: Buffer.from(String(json["text"] ?? ""), "utf8") };
  }
  return [started(d), media(answer.contentType, answer.bytes), finished(outcome, d, usage)];
}
