import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import { openChatStream, runChat } from "./chat-completion.js";
import { estimatedUsage, finished, json, namedChunk, response, started, type Outcome, type CallEvent } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import { ProviderError, type Json, type NamedEvent, type ProviderCall } from "./providers/provider.js";
import { str } from "./translate/content.js";
import { toChatFromResponses } from "./translate/responses-request.js";
import { responsesEvents, toResponse } from "./translate/responses-response.js";
import { fromResponsesUsage } from "./translate/usage.js";

// OpenAI's Responses API (/v1/responses). OpenAI answers it natively, body,
// response and events as they are (stored responses, hosted tools and
// reasoning items included). Every other deployment, and an
// OpenAI-compatible server that turns out not to serve it, answers through
// a chat completion: the request becomes a chat, and its answer or chunks a
// response or the Responses stream's named events; nothing is stored, so
// each request carries its whole conversation.

export function validateResponsesBody(body: Json): void {
  const input = body["input"];
  if (typeof input === "string" ? input === "" : !Array.isArray(input) || input.length === 0) {
    throw gatewayError("input must be a non-empty string or array", Code.InvalidArgument, { type: "invalid_request_error", param: "input" });
  }
}

// The config entries of deployments whose server answered /responses with
// "no such route": asked through chat from then on (a config reload makes
// new entries, which are asked again).
const withoutResponses = new WeakSet<object>();

/** Whether a native call's failure says the server has no Responses API (not that it lacks the model). */
function noResponsesApi(err: unknown): boolean {
  return err instanceof ProviderError && (err.status === 404 || err.status === 405) && err.detail?.code !== "model_not_found";
}

/** The native call, or undefined when the deployment answers the Responses API through chat. */
async function native<T>(call: ProviderCall, method: ((call: ProviderCall) => Promise<T>) | undefined): Promise<T | undefined> {
  if (!method || withoutResponses.has(call.deployment.entry)) return undefined;
  try {
    return await method(call);
  } catch (err) {
    if (!noResponsesApi(err)) throw err;
    withoutResponses.add(call.deployment.entry);
    return undefined;
  }
}

/** The chat call a Responses call becomes. */
function asChat(call: ProviderCall): ProviderCall {
  const d = call.deployment;
  return { ...call, body: toChatFromResponses(call.body, d.dropParams, d.provider, d.providerModel) };
}

/** A local estimate of a Responses call's usage: its input's JSON and the characters it produced. */
function estimated(call: ProviderCall, outputChars: number) {
  return estimatedUsage(JSON.stringify(call.body["input"] ?? ""), outputChars);
}

/** A non-streaming Responses call: Started, the response, Finished. */
export async function responses(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const adapter = adapterFor(d);
  const answered = await native(call, adapter.responses?.bind(adapter));
  if (answered) {
    outcome.usage = answered.usage ?? estimated(call, JSON.stringify(answered.response["output"] ?? "").length);
    outcome.usageEstimated = !answered.usage;
    outcome.failure = failureOf(answered.response);
    return [started(d), response(answered.bytes ?? answered.response), finished(outcome, d, outcome.usage)];
  }
  const result = await runChat(asChat(call), outcome);
  return [started(d), response(toResponse(result.response, outcome.usage!, call.body)), finished(outcome, d, outcome.usage!)];
}

/** A streaming Responses call: Started, the Responses stream's named events, Finished. */
export async function* responsesStream(call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const d = call.deployment;
  outcome.deployment = d;
  const adapter = adapterFor(d);
  const events = await native(call, adapter.responsesStream?.bind(adapter));
  if (events) {
    yield started(d);
    yield* nativeEvents(call, events, outcome);
    yield finished(outcome, d, outcome.usage!);
    return;
  }
  const chunks = await openChatStream(asChat(call), outcome);
  yield started(d);
  for await (const event of responsesEvents(chunks, call.body, () => outcome.usage)) yield namedChunk(event.name, json(event.json));
  yield finished(outcome, d, outcome.usage!);
}

/** A response that says it failed (status "failed"): its error code, "api_error" when it gives none. */
function failureOf(response: Json): string | undefined {
  if (response["status"] !== "failed") return undefined;
  return str((response["error"] as Json | null | undefined)?.["code"]) ?? "api_error";
}

/**
 * Passes a native stream's events through untouched, taking the usage (and
 * whether the response failed) from the final response event; a stream that
 * ends without one (or breaks) is counted locally from the text and
 * arguments it carried.
 */
async function* nativeEvents(call: ProviderCall, events: AsyncIterable<NamedEvent>, outcome: Outcome): AsyncGenerator<CallEvent> {
  let chars = 0;
  try {
    for await (const event of events) {
      const response = event.json["response"] as Json | undefined;
      const usage = fromResponsesUsage(response?.["usage"]);
      if (usage) outcome.usage = usage;
      if (response) outcome.failure = failureOf(response);
      chars += str(event.json["delta"])?.length ?? 0;
      yield namedChunk(event.name, Buffer.from(event.data));
    }
  } finally {
    if (!outcome.usage) {
      outcome.usage = estimated(call, chars);
      outcome.usageEstimated = true;
    }
  }
}
