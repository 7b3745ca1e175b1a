import { withFields } from "@gateway/common";
import { ProviderError, type ChatChunk, type Json, type Usage } from "../providers/provider.js";
import { jsonArray, str } from "./content.js";
import { isJsonOutput } from "./json-output-tool.js";
import { fromAnthropicUsage, mergeAnthropicUsage, toOpenAIUsage } from "./usage.js";

// Anthropic Messages responses and stream events as OpenAI chat completions
// and chunks, for anthropic/ deployments.

const FINISH_REASONS: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

export function finishReason(stopReason: unknown): string {
  return FINISH_REASONS[String(stopReason)] ?? "stop";
}

const STATUS_BY_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** An `error` event in an Anthropic stream (the status was 200 by then), as a ProviderError. */
export function streamError(event: Json, scrubbed: (text: string) => string): ProviderError {
  const error = (event["error"] ?? {}) as Json;
  const type = str(error["type"]) ?? "api_error";
  const message = scrubbed(str(error["message"]) ?? "stream failed");
  return new ProviderError(`anthropic error: ${message}`, STATUS_BY_ERROR_TYPE[type] ?? 500, type);
}

function toolCall(block: Json): Json {
  return { id: block["id"], type: "function", function: { name: block["name"], arguments: JSON.stringify(block["input"] ?? {}) } };
}

/**
 * An Anthropic message as an OpenAI chat.completion. For a request that
 * asked for JSON (`jsonOutput`: see json-output-tool.ts), the JSON tool's
 * input is the message's content, and its call the end of the answer
 * ("stop"), as OpenAI's JSON answers have them.
 */
export function fromAnthropicMessage(message: Json, jsonOutput = false): { response: Json; usage: Usage | undefined } {
  let text = "";
  let json: string | undefined;
  let reasoning = "";
  const toolCalls: Json[] = [];
  const thinkingBlocks: Json[] = [];
  for (const block of jsonArray(message["content"])) {
    if (block["type"] === "text") text += str(block["text"]) ?? "";
    else if (block["type"] === "thinking") {
      reasoning += str(block["thinking"]) ?? "";
      thinkingBlocks.push({ type: "thinking", thinking: block["thinking"], signature: block["signature"] });
    } else if (block["type"] === "redacted_thinking") thinkingBlocks.push({ type: "redacted_thinking", data: block["data"] });
    else if (block["type"] === "tool_use" && isJsonOutput(jsonOutput, block["name"])) json = JSON.stringify(block["input"] ?? {});
    else if (block["type"] === "tool_use") toolCalls.push(toolCall(block));
  }
  if (json !== undefined) text = json;
  const usage = fromAnthropicUsage(message["usage"]);
  const response: Json = {
    id: message["id"],
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: message["model"],
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && toolCalls.length > 0 ? null : text,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
          // LiteLLM's names for a reasoning model's thinking, and for the signed blocks to send back with tool results.
          ...(reasoning !== "" && { reasoning_content: reasoning }),
          ...(thinkingBlocks.length > 0 && { thinking_blocks: thinkingBlocks }),
        },
        logprobs: null,
        finish_reason: json !== undefined && message["stop_reason"] === "tool_use" ? "stop" : finishReason(message["stop_reason"]),
      },
    ],
    ...(usage && { usage: toOpenAIUsage(usage) }),
  };
  return { response, usage };
}

/**
 * Turns an Anthropic stream's events (complete, errors already thrown) into
 * OpenAI chunks: the role first, then text and tool-call deltas (Anthropic's
 * content-block index mapped to OpenAI's tool-call index), the finish
 * reason, and a closing usage chunk built from message_start's and
 * message_delta's usage. A tool call whose input streamed as nothing (a tool
 * without parameters: Anthropic sends no input_json_delta, or an empty one)
 * gets "{}" as its arguments when its block stops, as OpenAI sends them and
 * as the unstreamed answer has them, so that clients can JSON.parse them.
 * For a request that asked for JSON (`jsonOutput`), the JSON tool's input
 * streams as content, and its call ends the answer with "stop".
 */
export async function* chunksFromAnthropic(events: AsyncIterable<{ json: Json }>, jsonOutput = false): AsyncGenerator<ChatChunk> {
  let head: Json = { id: "", object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: "" };
  let usage: Json | undefined;
  const toolIndexByBlock = new Map<number, number>();
  /** Tool-use blocks whose input has not streamed a character yet. */
  const withoutArguments = new Set<number>();
  /** The blocks of the JSON tool's call, whose input is the answer's content. */
  const jsonBlocks = new Set<number>();
  const chunk = (delta: Json, finish: string | null = null): ChatChunk => ({ json: withFields(head, { choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }) });

  for await (const { json: event } of events) {
    const type = event["type"];
    if (type === "message_start") {
      const message = (event["message"] ?? {}) as Json;
      head = { ...head, id: message["id"], model: message["model"] };
      usage = mergeAnthropicUsage(undefined, message["usage"]);
      yield chunk({ role: "assistant", content: "" });
    } else if (type === "content_block_start") {
      const block = (event["content_block"] ?? {}) as Json;
      if (block["type"] === "tool_use" && isJsonOutput(jsonOutput, block["name"])) {
        jsonBlocks.add(Number(event["index"]));
        withoutArguments.add(Number(event["index"]));
      } else if (block["type"] === "tool_use") {
        const index = toolIndexByBlock.size;
        toolIndexByBlock.set(Number(event["index"]), index);
        withoutArguments.add(Number(event["index"]));
        yield chunk({ tool_calls: [{ index, id: block["id"], type: "function", function: { name: block["name"], arguments: "" } }] });
      } else if (block["type"] === "redacted_thinking") yield chunk({ thinking_blocks: [{ type: "redacted_thinking", data: block["data"] }] });
    } else if (type === "content_block_delta") {
      const delta = (event["delta"] ?? {}) as Json;
      if (delta["type"] === "text_delta") yield chunk({ content: delta["text"] });
      else if (delta["type"] === "thinking_delta") {
        yield chunk({ reasoning_content: delta["thinking"], thinking_blocks: [{ type: "thinking", thinking: delta["thinking"] }] });
      } else if (delta["type"] === "signature_delta") yield chunk({ thinking_blocks: [{ type: "thinking", thinking: "", signature: delta["signature"] }] });
      else if (delta["type"] === "input_json_delta") {
        const partial = str(delta["partial_json"]) ?? "";
        if (partial !== "" && jsonBlocks.has(Number(event["index"]))) {
          withoutArguments.delete(Number(event["index"]));
          yield chunk({ content: partial });
        } else if (partial !== "") {
          withoutArguments.delete(Number(event["index"]));
          const index = toolIndexByBlock.get(Number(event["index"])) ?? 0;
          yield chunk({ tool_calls: [{ index, function: { arguments: partial } }] });
        }
      }
    } else if (type === "content_block_stop") {
      const block = Number(event["index"]);
      const index = toolIndexByBlock.get(block);
      if (jsonBlocks.has(block) && withoutArguments.delete(block)) yield chunk({ content: "{}" });
      else if (index !== undefined && withoutArguments.delete(block)) yield chunk({ tool_calls: [{ index, function: { arguments: "{}" } }] });
    } else if (type === "message_delta") {
      usage = mergeAnthropicUsage(usage, event["usage"]);
      const stop = ((event["delta"] ?? {}) as Json)["stop_reason"];
      yield chunk({}, jsonBlocks.size > 0 && stop === "tool_use" ? "stop" : finishReason(stop));
    } else if (type === "message_stop") {
      const total = fromAnthropicUsage(usage);
      if (total) yield { json: withFields(head, { choices: [], usage: toOpenAIUsage(total) }) };
    }
  }
}
