import type { Json, Usage } from "../providers/provider.js";
import { jsonArray, parseArguments, str } from "./content.js";

// OpenAI chat completions and chunks as Gemini generateContent responses and
// stream chunks, so models/{model}:generateContent answers from any
// deployment. A model's reasoning is shown as thought parts only to a
// request that asked for them (thinkingConfig.includeThoughts), as Gemini
// does.

const FINISH_REASONS: Readonly<Record<string, string>> = {
  stop: "STOP",
  length: "MAX_TOKENS",
  tool_calls: "STOP",
  function_call: "STOP",
  content_filter: "SAFETY",
};

function finishReason(reason: unknown): string {
  return FINISH_REASONS[String(reason)] ?? "OTHER";
}

/** The request's usage as Gemini's usageMetadata. */
export function toUsageMetadata(usage: Usage): Json {
  return {
    promptTokenCount: usage.promptTokens,
    candidatesTokenCount: usage.completionTokens,
    totalTokenCount: usage.promptTokens + usage.completionTokens,
    ...(usage.cachedTokens > 0 && { cachedContentTokenCount: usage.cachedTokens }),
  };
}

function functionCall(id: unknown, name: unknown, args: unknown): Json {
  // A model's malformed arguments are still its answer; the client sees them as no arguments.
  return { functionCall: { ...(typeof id === "string" && id !== "" && { id }), name, args: parseArguments(args) ?? {} } };
}

/** An OpenAI chat.completion as a generateContent response, with the request's final usage. */
export function toGenerateContentResponse(completion: Json, usage: Usage, thoughts: boolean): Json {
  const candidates = jsonArray(completion["choices"]).map((choice) => {
    const message = (choice["message"] ?? {}) as Json;
    const parts: Json[] = [];
    const reasoning = str(message["reasoning_content"]);
    if (thoughts && reasoning) parts.push({ text: reasoning, thought: true });
    const text = str(message["content"]);
    if (text) parts.push({ text });
    for (const call of jsonArray(message["tool_calls"])) {
      const fn = (call["function"] ?? {}) as Json;
      parts.push(functionCall(call["id"], fn["name"], fn["arguments"]));
    }
    return { content: { role: "model", parts }, finishReason: finishReason(choice["finish_reason"]), index: choice["index"] ?? 0 };
  });
  return { candidates, usageMetadata: toUsageMetadata(usage), modelVersion: completion["model"], responseId: completion["id"] };
}

/** A tool call being streamed: its arguments arrive in pieces. */
interface StreamedCall {
  index: unknown;
  id: string | undefined;
  name: unknown;
  args: string;
}

/**
 * Turns OpenAI chunks into Gemini's stream: a chunk for each piece of text
 * (and of thought, when asked for), then a last one with the function calls
 * (whose arguments come whole in Gemini's, and in pieces in OpenAI's), the
 * finish reason and the final usage, which is only known once the chunks
 * are done.
 */
export async function* geminiChunks(chunks: AsyncIterable<{ json: Json }>, finalUsage: () => Usage | undefined, thoughts: boolean): AsyncGenerator<Json> {
  let model: unknown;
  let id: unknown;
  let reason = "STOP";
  const calls: StreamedCall[] = [];
  const candidate = (parts: Json[]) => ({ candidates: [{ content: { role: "model", parts }, index: 0 }], modelVersion: model, responseId: id });
  for await (const { json: chunk } of chunks) {
    model ??= chunk["model"];
    id ??= chunk["id"];
    const choice = jsonArray(chunk["choices"]).find((c) => (c["index"] ?? 0) === 0);
    if (!choice) continue;
    const delta = (choice["delta"] ?? {}) as Json;
    const reasoning = str(delta["reasoning_content"]);
    if (thoughts && reasoning) yield candidate([{ text: reasoning, thought: true }]);
    const text = str(delta["content"]);
    if (text) yield candidate([{ text }]);
    for (const call of jsonArray(delta["tool_calls"])) {
      const fn = (call["function"] ?? {}) as Json;
      const callId = typeof call["id"] === "string" && call["id"] !== "" ? call["id"] : undefined;
      let last = calls.at(-1);
      // A new call has another index, or (servers such as Ollama number every call 0) another id.
      if (!last || (call["index"] ?? 0) !== last.index || (callId !== undefined && last.id !== undefined && callId !== last.id)) {
        last = { index: call["index"] ?? 0, id: callId, name: fn["name"], args: "" };
        calls.push(last);
      }
      last.args += str(fn["arguments"]) ?? "";
    }
    if (choice["finish_reason"]) reason = finishReason(choice["finish_reason"]);
  }
  const parts = calls.length > 0 ? calls.map((c) => functionCall(c.id, c.name, c.args)) : [{ text: "" }];
  const usage = finalUsage();
  yield {
    candidates: [{ content: { role: "model", parts }, finishReason: reason, index: 0 }],
    ...(usage && { usageMetadata: toUsageMetadata(usage) }),
    modelVersion: model,
    responseId: id,
  };
}
