import { randomUUID } from "node:crypto";
import type { Json, Usage } from "../providers/provider.js";
import { addThinking, carriedThinking } from "./carried-thinking.js";
import { jsonArray, str } from "./content.js";

// OpenAI chat completions and chunks as Responses API objects and stream
// events, so /v1/responses answers from any deployment. Shapes are from
// OpenAI's public Responses API reference.

function itemId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "")}`;
}

function responsesUsage(usage: Usage): Json {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedTokens },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

/** Why an answer stopped short, as the Responses API says it; null when it finished. */
function incompleteDetails(finishReason: unknown): Json | null {
  if (finishReason === "length") return { reason: "max_output_tokens" };
  return finishReason === "content_filter" ? { reason: "content_filter" } : null;
}

/**
 * The response object around its output: its id and status, and what it
 * repeats of the request (defaults where the request left a field out).
 */
function responseObject(request: Json, id: string, createdAt: number, status: string, fields: Json): Json {
  return {
    id,
    object: "response",
    created_at: createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: request["instructions"] ?? null,
    max_output_tokens: request["max_output_tokens"] ?? null,
    model: request["model"],
    output: [],
    parallel_tool_calls: request["parallel_tool_calls"] ?? true,
    reasoning: { effort: (request["reasoning"] as Json | undefined)?.["effort"] ?? null, summary: null },
    store: false,
    temperature: request["temperature"] ?? null,
    text: request["text"] ?? { format: { type: "text" } },
    tool_choice: request["tool_choice"] ?? "auto",
    tools: request["tools"] ?? [],
    top_p: request["top_p"] ?? null,
    usage: null,
    metadata: request["metadata"] ?? {},
    ...fields,
  };
}

/** A reasoning item: its summary, and the signed thinking to give back, when there is some (carried-thinking.ts). */
function reasoningItem(id: string, text: string, thinking: readonly Json[] = []): Json {
  const encrypted = carriedThinking(thinking);
  return { type: "reasoning", id, summary: text === "" ? [] : [{ type: "summary_text", text }], ...(encrypted !== undefined && { encrypted_content: encrypted }) };
}
const outputText = (text: string): Json => ({ type: "output_text", text, annotations: [] });
const messageItem = (id: string, text: string, status: string): Json => ({
  type: "message",
  id,
  status,
  role: "assistant",
  content: status === "in_progress" ? [] : [outputText(text)],
});
const functionCallItem = (id: string, callId: unknown, name: unknown, args: string, status: string): Json => ({
  type: "function_call",
  id,
  call_id: callId,
  name,
  arguments: args,
  status,
});

/** An OpenAI chat.completion as a Responses API response, with the request's final usage. */
export function toResponse(completion: Json, usage: Usage, request: Json): Json {
  const choice = jsonArray(completion["choices"])[0] ?? {};
  const message = (choice["message"] ?? {}) as Json;
  const output: Json[] = [];
  const reasoning = str(message["reasoning_content"]) ?? "";
  const thinking = jsonArray(message["thinking_blocks"]);
  if (reasoning !== "" || thinking.length > 0) output.push(reasoningItem(itemId("rs"), reasoning, thinking));
  const text = str(message["content"]);
  if (text) output.push(messageItem(itemId("msg"), text, "completed"));
  for (const call of jsonArray(message["tool_calls"])) {
    const fn = (call["function"] ?? {}) as Json;
    output.push(functionCallItem(itemId("fc"), call["id"], fn["name"], str(fn["arguments"]) ?? "", "completed"));
  }
  const incomplete = incompleteDetails(choice["finish_reason"]);
  const created = typeof completion["created"] === "number" ? completion["created"] : Math.floor(Date.now() / 1000);
  return responseObject(request, itemId("resp"), created, incomplete ? "incomplete" : "completed", {
    incomplete_details: incomplete,
    output,
    usage: responsesUsage(usage),
  });
}

export interface ResponsesEvent {
  name: string;
  json: Json;
}

/** The output item a stream is writing: its kind, place, and what it has carried so far. */
interface OpenItem {
  kind: "reasoning" | "message" | "function_call";
  id: string;
  outputIndex: number;
  text: string;
  /** A function call's chat tool-call index and id, which tell its chunks from the next call's. */
  callIndex?: unknown;
  callId?: unknown;
  name?: unknown;
  /** A reasoning item's thinking blocks so far, with their signatures. */
  thinking?: Json[];
}

/**
 * Turns OpenAI chunks into the Responses API's stream: response.created and
 * response.in_progress, then each output item (reasoning summary, message
 * text, one item per function call) added, filled by deltas and done in
 * order, and response.completed (or response.incomplete) with every item
 * and the final usage, which is only known once the chunks are done.
 */
export async function* responsesEvents(chunks: AsyncIterable<{ json: Json }>, request: Json, finalUsage: () => Usage | undefined): AsyncGenerator<ResponsesEvent> {
  let sequence = 0;
  const event = (type: string, fields: Json): ResponsesEvent => ({ name: type, json: { type, sequence_number: sequence++, ...fields } });
  const id = itemId("resp");
  const createdAt = Math.floor(Date.now() / 1000);
  yield event("response.created", { response: responseObject(request, id, createdAt, "in_progress", {}) });
  yield event("response.in_progress", { response: responseObject(request, id, createdAt, "in_progress", {}) });

  const output: Json[] = [];
  let open: OpenItem | undefined;
  let finishReason: unknown;

  function* close(): Generator<ResponsesEvent> {
    if (!open) return;
    const { kind, id: item_id, outputIndex: output_index, text } = open;
    let item: Json;
    if (kind === "reasoning") {
      item = reasoningItem(item_id, text, open.thinking);
      const part = { type: "summary_text", text };
      yield event("response.reasoning_summary_text.done", { item_id, output_index, summary_index: 0, text });
      yield event("response.reasoning_summary_part.done", { item_id, output_index, summary_index: 0, part });
    } else if (kind === "message") {
      item = messageItem(item_id, text, "completed");
      yield event("response.output_text.done", { item_id, output_index, content_index: 0, text, logprobs: [] });
      yield event("response.content_part.done", { item_id, output_index, content_index: 0, part: outputText(text) });
    } else {
      item = functionCallItem(item_id, open.callId, open.name, text, "completed");
      yield event("response.function_call_arguments.done", { item_id, output_index, arguments: text });
    }
    output.push(item);
    yield event("response.output_item.done", { output_index, item });
    open = undefined;
  }

  function* start(kind: OpenItem["kind"], prefix: string, fields: Partial<OpenItem> = {}): Generator<ResponsesEvent> {
    yield* close();
    open = { kind, id: itemId(prefix), outputIndex: output.length, text: "", ...fields };
    const { id: item_id, outputIndex: output_index } = open;
    if (kind === "reasoning") {
      yield event("response.output_item.added", { output_index, item: reasoningItem(item_id, "") });
      yield event("response.reasoning_summary_part.added", { item_id, output_index, summary_index: 0, part: { type: "summary_text", text: "" } });
    } else if (kind === "message") {
      yield event("response.output_item.added", { output_index, item: messageItem(item_id, "", "in_progress") });
      yield event("response.content_part.added", { item_id, output_index, content_index: 0, part: outputText("") });
    } else {
      yield event("response.output_item.added", { output_index, item: functionCallItem(item_id, open.callId, open.name, "", "in_progress") });
    }
  }

  for await (const { json: chunk } of chunks) {
    const choice = jsonArray(chunk["choices"]).find((c) => (c["index"] ?? 0) === 0);
    if (!choice) continue;
    const d = (choice["delta"] ?? {}) as Json;
    const reasoning = str(d["reasoning_content"]);
    const thinking = jsonArray(d["thinking_blocks"]);
    if (reasoning || thinking.length > 0) {
      if (open?.kind !== "reasoning") yield* start("reasoning", "rs", { thinking: [] });
      for (const block of thinking) addThinking(open!.thinking!, block);
    }
    if (reasoning) {
      open!.text += reasoning;
      yield event("response.reasoning_summary_text.delta", { item_id: open!.id, output_index: open!.outputIndex, summary_index: 0, delta: reasoning });
    }
    const text = str(d["content"]);
    if (text) {
      if (open?.kind !== "message") yield* start("message", "msg");
      open!.text += text;
      yield event("response.output_text.delta", { item_id: open!.id, output_index: open!.outputIndex, content_index: 0, delta: text, logprobs: [] });
    }
    for (const call of jsonArray(d["tool_calls"])) {
      const fn = (call["function"] ?? {}) as Json;
      // A new call has another index, or (servers such as Ollama number every call 0) another id.
      const callId = typeof call["id"] === "string" && call["id"] !== "" ? call["id"] : undefined;
      const index = call["index"] ?? 0;
      if (open?.kind !== "function_call" || index !== open.callIndex || (callId !== undefined && callId !== open.callId)) {
        yield* start("function_call", "fc", { callIndex: index, callId, name: fn["name"] });
      }
      const args = str(fn["arguments"]);
      if (args) {
        open!.text += args;
        yield event("response.function_call_arguments.delta", { item_id: open!.id, output_index: open!.outputIndex, delta: args });
      }
    }
    if (choice["finish_reason"]) finishReason = choice["finish_reason"];
  }
  yield* close();
  const usage = finalUsage();
  const incomplete = incompleteDetails(finishReason);
  const response = responseObject(request, id, createdAt, incomplete ? "incomplete" : "completed", {
    incomplete_details: incomplete,
    output,
    usage: usage ? responsesUsage(usage) : null,
  });
  yield event(incomplete ? "response.incomplete" : "response.completed", { response });
}
