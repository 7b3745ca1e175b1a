import { CHAT_DEFAULTS, withCallDefaults } from "./call-defaults.js";
import { openChatStream, runChat } from "./chat-completion.js";
import { chunk, finished, response, started, type CallEvent, type Outcome } from "./outcome.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { badRequest, isJson } from "./translate/content.js";
import { includesThoughts, toChatFromGenerateContent } from "./translate/generate-content-request.js";
import { geminiChunks, toGenerateContentResponse } from "./translate/generate-content-response.js";

// Google's Gemini API (models/{model}:generateContent and
// :streamGenerateContent) over any deployment: the request becomes a chat
// completion, with the deployment's call parameters as a chat request takes
// them, and its answer or chunks Gemini's response or stream.

export function validateGenerateContentBody(body: Json): void {
  const contents = body["contents"];
  if (!Array.isArray(contents) || contents.length === 0 || !contents.every(isJson)) {
    throw badRequest("contents must be a non-empty list of contents, each with a role and parts", "contents");
  }
}

/** The chat call a generateContent call becomes. */
function asChat(call: ProviderCall): ProviderCall {
  const d = call.deployment;
  return { ...call, body: withCallDefaults(toChatFromGenerateContent(call.body, d.provider, d.providerModel), d.callDefaults, CHAT_DEFAULTS) };
}

/** A generateContent call: Started, the response, Finished. */
export async function generateContent(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  const result = await runChat(asChat(call), outcome);
  return [started(d), response(toGenerateContentResponse(result.response, outcome.usage!, includesThoughts(call.body))), finished(outcome, d, outcome.usage!)];
}

/** A streamGenerateContent call: Started, Gemini's chunks, Finished. */
export async function* generateContentStream(call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const d = call.deployment;
  const chunks = await openChatStream(asChat(call), outcome);
  yield started(d);
  for await (const json of geminiChunks(chunks, () => outcome.usage, includesThoughts(call.body))) yield chunk({ json });
  yield finished(outcome, d, outcome.usage!);
}
