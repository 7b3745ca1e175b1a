import { incompleteStream } from "../providers/http.js";
import type { Json, NamedEvent } from "../providers/provider.js";
import { isJson, jsonArray, str } from "./content.js";
import { anthropicUsageFromConverse } from "./usage.js";

// Bedrock Converse answers and ConverseStream events as an Anthropic message
// and its stream events: from there the Anthropic translation makes OpenAI
// chat of them, and /v1/messages passes them on.

const STOP_REASONS: Record<string, string> = {
  end_turn: "end_turn",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  model_context_window_exceeded: "model_context_window_exceeded",
  guardrail_intervened: "refusal",
  content_filtered: "refusal",
};

function stopReason(value: unknown): string {
  return STOP_REASONS[String(value)] ?? "end_turn";
}

/** A stream event's content block index. */
function blockIndex(event: Json): number {
  const index = event["contentBlockIndex"];
  return typeof index === "number" ? index : 0;
}

function anthropicBlock(block: Json): Json | undefined {
  if (typeof block["text"] === "string") return { type: "text", text: block["text"] };
  const toolUse = block["toolUse"];
  if (isJson(toolUse)) return { type: "tool_use", id: toolUse["toolUseId"], name: toolUse["name"], input: isJson(toolUse["input"]) ? toolUse["input"] : {} };
  const reasoning = block["reasoningContent"];
  if (isJson(reasoning)) {
    const text = reasoning["reasoningText"];
    if (isJson(text)) return { type: "thinking", thinking: str(text["text"]) ?? "", signature: str(text["signature"]) ?? "" };
    if (typeof reasoning["redactedContent"] === "string") return { type: "redacted_thinking", data: reasoning["redactedContent"] };
  }
  return undefined;
}

/** The stop sequence that ended an answer, which Claude reports when asked for it (additionalModelResponseFieldPaths); null otherwise. */
function stopSequence(answer: Json): string | null {
  const fields = answer["additionalModelResponseFields"];
  return (isJson(fields) ? str(fields["stop_sequence"]) : undefined) ?? null;
}

/** A Converse answer as an Anthropic message; `id` names it (Converse gives none), `model` is the deployment's. */
export function fromConverseResponse(answer: Json, model: string, id: string): Json {
  const output = isJson(answer["output"]) ? answer["output"] : {};
  const message = isJson(output["message"]) ? output["message"] : {};
  const content = jsonArray(message["content"])
    .map(anthropicBlock)
    .filter((block): block is Json => block !== undefined);
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason(answer["stopReason"]),
    stop_sequence: stopSequence(answer),
    usage: anthropicUsageFromConverse(answer["usage"]),
  };
}

/**
 * One ConverseStream event: its `:event-type` and JSON payload; or, as type
 * "exception", the exception that ended the stream after the events before it.
 */
export interface ConverseEvent {
  type: string;
  json: Json;
  failure?: Error;
}

function named(name: string, json: Json): NamedEvent {
  return { name, data: JSON.stringify(json), json };
}

/** The Anthropic content block a Converse block's first delta opens. */
function openedBlock(delta: Json): Json {
  const reasoning = delta["reasoningContent"];
  if (isJson(reasoning)) {
    return typeof reasoning["redactedContent"] === "string" ? { type: "redacted_thinking", data: reasoning["redactedContent"] } : { type: "thinking", thinking: "", signature: "" };
  }
  return { type: "text", text: "" };
}

/** A Converse delta as an Anthropic one; undefined for what Anthropic carries elsewhere (redacted thinking, in its block's start). */
function anthropicDelta(delta: Json): Json | undefined {
  if (typeof delta["text"] === "string") return { type: "text_delta", text: delta["text"] };
  const toolUse = delta["toolUse"];
  if (isJson(toolUse)) return { type: "input_json_delta", partial_json: str(toolUse["input"]) ?? "" };
  const reasoning = delta["reasoningContent"];
  if (isJson(reasoning)) {
    if (typeof reasoning["text"] === "string") return { type: "thinking_delta", thinking: reasoning["text"] };
    if (typeof reasoning["signature"] === "string") return { type: "signature_delta", signature: reasoning["signature"] };
  }
  return undefined;
}

/**
 * ConverseStream's events as Anthropic's: message_start, each content
 * block's start, deltas and stop (Converse starts only tool-use blocks
 * itself; the others open at their first delta), then message_delta with the
 * stop reason and the usage (Converse sends them apart, in messageStop and
 * metadata) and message_stop. A stream that ends before its metadata is
 * incomplete.
 */
export async function* anthropicEventsFromConverse(events: AsyncIterable<ConverseEvent>, model: string, id: string): AsyncGenerator<NamedEvent> {
  const open = new Set<number>();
  let stop: string | undefined;
  let matched: string | null = null;
  let ended = false;
  for await (const { type, json, failure } of events) {
    if (failure) throw failure;
    if (type === "messageStart") {
      const usage = { input_tokens: 0, output_tokens: 0 };
      yield named("message_start", { type: "message_start", message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage } });
    } else if (type === "contentBlockStart") {
      const index = blockIndex(json);
      const start = isJson(json["start"]) ? json["start"] : {};
      const toolUse = isJson(start["toolUse"]) ? start["toolUse"] : {};
      open.add(index);
      yield named("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: toolUse["toolUseId"], name: toolUse["name"], input: {} } });
    } else if (type === "contentBlockDelta") {
      const index = blockIndex(json);
      const delta = isJson(json["delta"]) ? json["delta"] : {};
      if (!open.has(index)) {
        open.add(index);
        yield named("content_block_start", { type: "content_block_start", index, content_block: openedBlock(delta) });
      }
      const converted = anthropicDelta(delta);
      if (converted) yield named("content_block_delta", { type: "content_block_delta", index, delta: converted });
    } else if (type === "contentBlockStop") {
      yield named("content_block_stop", { type: "content_block_stop", index: blockIndex(json) });
    } else if (type === "messageStop") {
      stop = stopReason(json["stopReason"]);
      matched = stopSequence(json);
    } else if (type === "metadata") {
      yield named("message_delta", { type: "message_delta", delta: { stop_reason: stop ?? "end_turn", stop_sequence: matched }, usage: anthropicUsageFromConverse(json["usage"]) });
      yield named("message_stop", { type: "message_stop" });
      ended = true;
    }
  }
  if (!ended) throw incompleteStream("bedrock");
}
