import { messagesText, tokensForChars, withFields } from "@gateway/common";
import { openChatStream, runChat } from "./chat-completion.js";
import { estimatedUsage, finished, json, namedChunk, response, started, type Outcome, type CallEvent } from "./outcome.js";
import { adapterFor } from "./providers/index.js";
import type { Json, NamedEvent, ProviderAdapter, ProviderCall } from "./providers/provider.js";
import { DEFAULT_MAX_TOKENS } from "./translate/anthropic-request.js";
import { jsonArray, str, textOf } from "./translate/content.js";
import { toChatRequest } from "./translate/messages-request.js";
import { unsupported } from "./translate/params.js";
import { eventsFromChunks, toAnthropicMessage } from "./translate/messages-response.js";
import { fromAnthropicUsage, mergeAnthropicUsage } from "./translate/usage.js";

// Anthropic Messages requests (/v1/messages): passed through to deployments
// that speak Messages natively, translated to and from chat for the rest.

/** Anthropic requires max_tokens; a client that leaves it out gets the same default as chat requests. */
function withMaxTokens(body: Json): Json {
  return typeof body["max_tokens"] === "number" ? body : withFields(body, { max_tokens: DEFAULT_MAX_TOKENS });
}

function promptText(body: Json): string {
  return textOf(body["system"]) + messagesText(body["messages"]);
}

/**
 * The chat call a Messages call becomes for a deployment without native
 * Messages. tool_choice.disable_parallel_tool_use becomes parallel_tool_calls
 * false, which a provider without that switch (Gemini) cannot take: the 400
 * names the field the client sent, not the chat parameter it never saw, and
 * under drop_params it is dropped (the model may then call tools in parallel).
 */
function asChat(call: ProviderCall): ProviderCall {
  const d = call.deployment;
  const body = toChatRequest(call.body, d.dropParams, d.provider, d.providerModel);
  const takes = adapterFor(d).chatParams;
  if (body["parallel_tool_calls"] !== undefined && takes !== undefined && !takes.has("parallel_tool_calls")) {
    const param = "tool_choice.disable_parallel_tool_use";
    if (!d.dropParams) throw unsupported(`${d.provider} does not support the parameter "${param}"`, param);
    delete body["parallel_tool_calls"];
  }
  return { ...call, body };
}

/** A non-streaming Messages call: Started, the Anthropic message, Finished. */
export async function messages(call: ProviderCall, outcome: Outcome): Promise<CallEvent[]> {
  const d = call.deployment;
  outcome.deployment = d;
  const adapter = adapterFor(d);
  let message: Json;
  if (adapter.messages) {
    const result = await adapter.messages({ ...call, body: withMaxTokens(call.body) });
    message = result.response;
    if (result.usage) outcome.usage = result.usage;
    else {
      const chars = jsonArray(message["content"]).reduce((sum, block) => sum + (str(block["text"])?.length ?? 0), 0);
      outcome.usage = estimatedUsage(promptText(call.body), chars);
      outcome.usageEstimated = true;
    }
  } else {
    const result = await runChat(asChat(call), outcome);
    message = toAnthropicMessage(result.response, outcome.usage!);
  }
  return [started(d), response(message), finished(outcome, d, outcome.usage!)];
}

/** A streaming Messages call: Started, Anthropic's named events, Finished. */
export async function* messagesStream(call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const d = call.deployment;
  outcome.deployment = d;
  const adapter = adapterFor(d);
  if (adapter.messagesStream) {
    yield* nativeStream(adapter, call, outcome);
    return;
  }
  const chunks = await openChatStream(asChat(call), outcome);
  yield started(d);
  for await (const event of eventsFromChunks(chunks, () => outcome.usage)) yield namedChunk(event.name, json(event.json));
  yield finished(outcome, d, outcome.usage!);
}

/**
 * Passes a native stream's events through untouched, reading usage from
 * message_start and message_delta. A stream that breaks before message_delta
 * keeps its reported input and an estimate of the output seen.
 */
async function* nativeStream(adapter: ProviderAdapter, call: ProviderCall, outcome: Outcome): AsyncGenerator<CallEvent> {
  const d = call.deployment;
  const events: AsyncIterable<NamedEvent> = await adapter.messagesStream!({ ...call, body: withMaxTokens(call.body) });
  yield started(d);
  let reported: Json | undefined;
  let final = false;
  // What the stream carried, counted rather than kept.
  let chars = 0;
  try {
    for await (const event of events) {
      if (event.name === "message_start") reported = mergeAnthropicUsage(undefined, (event.json["message"] as Json | undefined)?.["usage"]);
      else if (event.name === "message_delta") {
        reported = mergeAnthropicUsage(reported, event.json["usage"]);
        final = true;
      } else if (event.name === "content_block_delta") {
        const delta = (event.json["delta"] ?? {}) as Json;
        chars += (str(delta["text"]) ?? str(delta["partial_json"]) ?? str(delta["thinking"]))?.length ?? 0;
      }
      yield namedChunk(event.name, Buffer.from(event.data));
    }
  } finally {
    const usage = fromAnthropicUsage(reported);
    if (usage && final) outcome.usage = usage;
    else {
      outcome.usage = usage
        ? { ...usage, completionTokens: Math.max(usage.completionTokens, tokensForChars(chars)) }
        : estimatedUsage(promptText(call.body), chars);
      outcome.usageEstimated = true;
    }
  }
  yield finished(outcome, d, outcome.usage);
}
