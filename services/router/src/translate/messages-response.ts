import type { Json, Usage } from "../providers/provider.js";
import { jsonArray, parseArguments, str } from "./content.js";
import { toAnthropicUsage } from "./usage.js";

// OpenAI chat completions and chunks as Anthropic Messages responses and
// stream events, so /v1/messages answers from any deployment.

const STOP_REASONS: Record<string, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

function stopReason(finishReason: unknown): string {
  return STOP_REASONS[String(finishReason)] ?? "end_turn";
}

function toolUse(call: Json): Json {
  const fn = (call["function"] ?? {}) as Json;
  // A model's malformed arguments are still its answer; the client sees them as empty input.
  return { type: "tool_use", id: call["id"], name: fn["name"], input: parseArguments(fn["arguments"]) ?? {} };
}

/** An OpenAI chat.completion as an Anthropic message, with the request's final usage. */
export function toAnthropicMessage(completion: Json, usage: Usage): Json {
  const choice = jsonArray(completion["choices"])[0] ?? {};
  const message = (choice["message"] ?? {}) as Json;
  const content: Json[] = [];
  const reasoning = str(message["reasoning_content"]);
  if (reasoning) content.push({ type: "thinking", thinking: reasoning, signature: "" });
  const text = str(message["content"]);
  if (text) content.push({ type: "text", text });
  content.push(...jsonArray(message["tool_calls"]).map(toolUse));
  return {
    id: completion["id"],
    type: "message",
    role: "assistant",
    model: completion["model"],
    content,
    stop_reason: stopReason(choice["finish_reason"]),
    stop_sequence: null,
    usage: toAnthropicUsage(usage),
  };
}

export interface AnthropicEvent {
  name: string;
  json: Json;
}

const event = (json: Json): AnthropicEvent => ({ name: String(json["type"]), json });

function messageStart(chunk: Json): AnthropicEvent {
  const message = { id: chunk["id"], type: "message", role: "assistant", model: chunk["model"], content: [], stop_reason: null, stop_sequence: null };
  return event({ type: "message_start", message: { ...message, usage: { input_tokens: 0, output_tokens: 0 } } });
}

/** A tool call of the answer: its id and name as they came, and its arguments so far when they are held back. */
interface ToolCall {
  id: unknown;
  name: unknown;
  args: string;
}

/** Content that came while a tool_use block was open, sent as blocks of its own after it. */
type Held = { kind: "thinking" | "text"; text: string } | { kind: "tool_use"; call: ToolCall };

/**
 * Turns OpenAI chunks into Anthropic's stream: message_start, content blocks
 * (thinking, text, one tool_use per tool call) opened and closed in order,
 * then message_delta with the stop reason and the final usage, which is only
 * known once the chunks are done (so message_start carries zero tokens), and
 * message_stop.
 *
 * Anthropic's blocks come one after another, never reopened, while OpenAI's
 * servers may send the pieces of several tool calls interleaved (call 0, 1,
 * then 0 again) and nothing says when a call is complete. So the first tool
 * call streams in its block, which stays open to the end; what comes after
 * it (other calls, text) is held and sent at the end, a whole block each.
 */
export async function* eventsFromChunks(chunks: AsyncIterable<{ json: Json }>, finalUsage: () => Usage | undefined): AsyncGenerator<AnthropicEvent> {
  let startedMessage = false;
  let index = -1;
  let open: "thinking" | "text" | "tool_use" | undefined;
  /** The call whose tool_use block is open. */
  let streamed: ToolCall | undefined;
  /** The latest call at each OpenAI index. */
  const calls = new Map<unknown, ToolCall>();
  const held: Held[] = [];
  let stop = "end_turn";

  function* openBlock(kind: "thinking" | "text" | "tool_use", block: Json): Generator<AnthropicEvent> {
    if (open !== undefined) yield event({ type: "content_block_stop", index });
    index += 1;
    open = kind;
    yield event({ type: "content_block_start", index, content_block: block });
  }
  const delta = (d: Json) => event({ type: "content_block_delta", index, delta: d });
  function hold(kind: "thinking" | "text", text: string): void {
    const last = held.at(-1);
    if (last?.kind === kind) last.text += text;
    else held.push({ kind, text });
  }

  for await (const { json: chunk } of chunks) {
    const choices = jsonArray(chunk["choices"]);
    if (!startedMessage) {
      // Azure opens with a chunk of content-filter results alone (no id, no model, no choices): the message starts after it.
      if (choices.length === 0 && !chunk["id"]) continue;
      startedMessage = true;
      yield messageStart(chunk);
    }
    const choice = choices.find((c) => (c["index"] ?? 0) === 0);
    if (!choice) continue;
    const d = (choice["delta"] ?? {}) as Json;
    const reasoning = str(d["reasoning_content"]);
    if (reasoning) {
      if (streamed) hold("thinking", reasoning);
      else {
        if (open !== "thinking") yield* openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
        yield delta({ type: "thinking_delta", thinking: reasoning });
      }
    }
    const text = str(d["content"]);
    if (text) {
      if (streamed) hold("text", text);
      else {
        if (open !== "text") yield* openBlock("text", { type: "text", text: "" });
        yield delta({ type: "text_delta", text });
      }
    }
    for (const piece of jsonArray(d["tool_calls"])) {
      const fn = (piece["function"] ?? {}) as Json;
      const at = piece["index"] ?? 0;
      // A new call has another index, or (servers such as Ollama number every call 0) another id.
      const id = typeof piece["id"] === "string" && piece["id"] !== "" ? piece["id"] : undefined;
      let call = calls.get(at);
      if (call === undefined || (id !== undefined && id !== call.id)) {
        call = { id: piece["id"], name: fn["name"], args: "" };
        calls.set(at, call);
        if (streamed) held.push({ kind: "tool_use", call });
        else {
          streamed = call;
          yield* openBlock("tool_use", { type: "tool_use", id: piece["id"], name: fn["name"], input: {} });
        }
      } else if (!call.name && fn["name"]) call.name = fn["name"];
      const args = str(fn["arguments"]);
      if (!args) continue;
      if (call === streamed) yield delta({ type: "input_json_delta", partial_json: args });
      else call.args += args;
    }
    if (choice["finish_reason"]) stop = stopReason(choice["finish_reason"]);
  }
  if (!startedMessage) yield messageStart({});
  for (const block of held) {
    if (block.kind === "tool_use") {
      const { id, name, args } = block.call;
      yield* openBlock("tool_use", { type: "tool_use", id, name, input: {} });
      if (args) yield delta({ type: "input_json_delta", partial_json: args });
    } else if (block.kind === "text") {
      yield* openBlock("text", { type: "text", text: "" });
      yield delta({ type: "text_delta", text: block.text });
    } else {
      yield* openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
      yield delta({ type: "thinking_delta", thinking: block.text });
    }
  }
  if (open !== undefined) yield event({ type: "content_block_stop", index });
  const usage = finalUsage();
  yield event({
    type: "message_delta",
    delta: { stop_reason: stop, stop_sequence: null },
    usage: usage ? toAnthropicUsage(usage) : { output_tokens: 0 },
  });
  yield event({ type: "message_stop" });
}
