import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import { openChatStream, runChat } from "./chat-completion.js";
import { finished, json, namedChunk, response, started, type Outcome, type CallEvent } from "./outcome.js";
import type { Json, ProviderCall } from "./providers/provider.js";
import { toChatFromResponses } from "./translate/responses-request.js";
import { responsesEvents, toResponse } from "./translate/responses-response.js";

// OpenAI's Responses API (/v1/responses) on every deployment: the request
// becomes a chat completion, and its answer or chunks a response or the
// Responses stream's named events. Nothing is stored: each request carries
// its whole conversation.

export function validateResponsesBody(body: Json): void {
  const input = body["input"];
  if (typeof input === "string" ? input === "" : !Array.isArray(input) || input.length === 0) {
    throw gatewayError("input must be a non-empty string or array", Code.InvalidArgument, { type: "invalid_request_error", param: "input" });
  }
}

/** The chat call a Responses call becomes. */
function asChat(call: ProviderCall): ProviderCall {
  const d = call.deployment;
  return { ...call, body: toChatFromResponses(call.body, d.dropParams, d.provider, d.providerModel) };
}

/** A non-streaming Responses call: Started, the response, Finished. */
export async function responses(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const result = await runChat(asChat(call), outcome);
  const d = call.deployment;
  return [started(d), response(toResponse(result.response, outcome.usage!, call.body)), finished(outcome, d, outcome.usage!)];
}

/** A streaming Responses call: Started, the Responses stream's named events, Finished. */
export async function* responsesStream(call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const chunks = await openChatStream(asChat(call), outcome);
  const d = call.deployment;
  yield started(d);
  for await (const event of responsesEvents(chunks, call.body, () => outcome.usage)) yield namedChunk(event.name, json(event.json));
  yield finished(outcome, d, outcome.usage!);
}
