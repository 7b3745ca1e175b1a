import { CHAT_DEFAULTS, withCallDefaults, type Takes } from "./call-defaults.js";
import { openChatStream, runChat } from "./chat-completion.js";
import { chunk, estimatedUsage, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { badRequest, isJson, jsonArray } from "./translate/content.js";
import { includesThoughts, partsText, toChatFromGenerateContent } from "./translate/generate-content-request.js";
import { geminiChunks, toGenerateContentResponse } from "./translate/generate-content-response.js";
import { fromGeminiUsage } from "./translate/usage.js";

// Google's Gemini API (models/{model}:generateContent and
// :streamGenerateContent). Gemini deployments (gemini/, and vertex_ai/'s
// Gemini models) answer it natively: the body, the response and the chunks
// as they are (Google's own tools, thought signatures and cached content
// included). Every other deployment answers through a chat completion, with
// its call parameters as a chat request takes them.

export function validateGenerateContentBody(body: Json): void {
  const contents = body["contents"];
  if (!Array.isArray(contents) || contents.length === 0 || !contents.every(isJson)) {
    throw badRequest("contents must be a non-empty list of contents, each with a role and parts", "contents");
  }
}

// The top-level fields Gemini's REST API also takes in snake_case, by their
// camelCase names: sent natively under one name, so the deployment's call
// parameters land in the client's generationConfig.
const CAMEL_CASE: Readonly<Record<string, string>> = {
  system_instruction: "systemInstruction",
  generation_config: "generationConfig",
  tool_config: "toolConfig",
  safety_settings: "safetySettings",
  cached_content: "cachedContent",
};

// A deployment's call parameters as a native request takes them.
const NATIVE_DEFAULTS: Takes = new Map([
  ["temperature", ["generationConfig", "temperature"]],
  ["top_p", ["generationConfig", "topP"]],
  ["top_k", ["generationConfig", "topK"]],
  ["max_tokens", ["generationConfig", "maxOutputTokens"]],
  ["max_completion_tokens", ["generationConfig", "maxOutputTokens"]],
  ["seed", ["generationConfig", "seed"]],
]);

/** The body a Gemini deployment gets: the client's, without the model and stream flag the edge added, with the deployment's call parameters it lacks. */
function nativeBody(call: ProviderCall): Json {
  const body: Json = {};
  for (const name in call.body) if (name !== "model" && name !== "stream") body[CAMEL_CASE[name] ?? name] = call.body[name];
  return withCallDefaults(body, call.deployment.callDefaults, NATIVE_DEFAULTS);
}

/** The chat call a generateContent call becomes. */
function asChat(call: ProviderCall): ProviderCall {
  const d = call.deployment;
  return { ...call, body: withCallDefaults(toChatFromGenerateContent(call.body, d.provider, d.providerModel), d.callDefaults, CHAT_DEFAULTS) };
}

/** A local estimate of a native call's usage: its contents' text and the characters it produced. */
function estimated(call: ProviderCall, outputChars: number) {
  return estimatedUsage(jsonArray(call.body["contents"]).map(partsText).join(""), outputChars);
}

/** The characters of a Gemini response's (or chunk's) first candidate's text parts. */
function textChars(answer: Json): number {
  const candidate = jsonArray(answer["candidates"])[0];
  return candidate ? partsText(candidate["content"]).length : 0;
}

/** A generateContent call: Started, the response, Finished. */
export async function generateContent(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  const adapter = adapterFor(d);
  if (adapter.generateContent) {
    outcome.deployment = d;
    const answered = await adapter.generateContent({ ...call, body: nativeBody(call) });
    outcome.usage = answered.usage ?? estimated(call, textChars(answered.response));
    outcome.usageEstimated = !answered.usage;
    return [started(d), response(answered.response), finished(outcome, d, outcome.usage)];
  }
  const result = await runChat(asChat(call), outcome);
  return [started(d), response(toGenerateContentResponse(result.response, outcome.usage!, includesThoughts(call.body))), finished(outcome, d, outcome.usage!)];
}

/** A streamGenerateContent call: Started, Gemini's chunks, Finished. */
export async function* generateContentStream(call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const d = call.deployment;
  const adapter = adapterFor(d);
  if (adapter.generateContentStream) {
    outcome.deployment = d;
    const chunks = await adapter.generateContentStream({ ...call, body: nativeBody(call) });
    yield started(d);
    let chars = 0;
    try {
      for await (const json of chunks) {
        outcome.usage = fromGeminiUsage(json["usageMetadata"]) ?? outcome.usage;
        chars += textChars(json);
        yield chunk({ json });
      }
    } finally {
      if (!outcome.usage) {
        outcome.usage = estimated(call, chars);
        outcome.usageEstimated = true;
      }
    }
    yield finished(outcome, d, outcome.usage);
    return;
  }
  const chunks = await openChatStream(asChat(call), outcome);
  yield started(d);
  for await (const json of geminiChunks(chunks, () => outcome.usage, includesThoughts(call.body))) yield chunk({ json });
  yield finished(outcome, d, outcome.usage!);
}
