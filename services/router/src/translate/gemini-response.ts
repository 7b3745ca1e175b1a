import { randomUUID } from "node:crypto";
import { withFields } from "@gateway/common";
import { ProviderError, type ChatChunk, type Json, type Usage } from "../providers/provider.js";
import { jsonArray, str } from "./content.js";
import { toolCallId } from "./thought-signatures.js";
import { fromGeminiUsage, toOpenAIUsage } from "./usage.js";

// Gemini generateContent responses (whole, or one per stream event) as OpenAI
// chat completions and chunks, for gemini/ deployments.

const FINISH_REASONS: Record<string, string> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
};

function finishReason(reason: unknown, calledTools: boolean): string {
  if (calledTools) return "tool_calls";
  return FINISH_REASONS[String(reason)] ?? "stop";
}

interface CandidateDelta {
  text: string;
  reasoning: string;
  calls: { name: unknown; args: unknown; signature: string | undefined }[];
}

function deltaOf(candidate: Json): CandidateDelta {
  const delta: CandidateDelta = { text: "", reasoning: "", calls: [] };
  const content = (candidate["content"] ?? {}) as Json;
  for (const part of jsonArray(content["parts"])) {
    const call = part["functionCall"] as Json | undefined;
    if (call) delta.calls.push({ name: call["name"], args: call["args"] ?? {}, signature: str(part["thoughtSignature"]) });
    else if (part["thought"] === true) delta.reasoning += str(part["text"]) ?? "";
    else delta.text += str(part["text"]) ?? "";
  }
  return delta;
}

/** A response whose prompt was blocked has no candidates, only a reason. */
function blocked(response: Json): boolean {
  const feedback = response["promptFeedback"] as Json | undefined;
  return jsonArray(response["candidates"]).length === 0 && typeof feedback?.["blockReason"] === "string";
}

/** A generateContent response as an OpenAI chat.completion. */
export function fromGeminiResponse(response: Json, providerModel: string): { response: Json; usage: Usage | undefined } {
  const candidates = jsonArray(response["candidates"]);
  const choices = candidates.map((candidate, i) => {
    const { text, reasoning, calls } = deltaOf(candidate);
    const toolCalls = calls.map((c) => ({ id: toolCallId(c.signature), type: "function", function: { name: c.name, arguments: JSON.stringify(c.args) } }));
    return {
      index: typeof candidate["index"] === "number" ? candidate["index"] : i,
      message: {
        role: "assistant",
        content: text === "" && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        ...(reasoning !== "" && { reasoning_content: reasoning }),
      },
      logprobs: null,
      finish_reason: finishReason(candidate["finishReason"], toolCalls.length > 0),
    };
  });
  if (blocked(response)) choices.push({ index: 0, message: { role: "assistant", content: "" }, logprobs: null, finish_reason: "content_filter" });
  const usage = fromGeminiUsage(response["usageMetadata"]);
  return {
    response: {
      id: str(response["responseId"]) ?? `chatcmpl-${randomUUID()}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: str(response["modelVersion"]) ?? providerModel,
      choices,
      ...(usage && { usage: toOpenAIUsage(usage) }),
    },
    usage,
  };
}

/**
 * Turns Gemini stream events (each a partial generateContent response) into
 * OpenAI chunks, ending with a usage chunk from the last usageMetadata (it is
 * cumulative). Throws when the stream ends before any candidate finished;
 * error events are the adapter's to throw.
 */
export async function* chunksFromGemini(events: AsyncIterable<Json>, providerModel: string): AsyncGenerator<ChatChunk> {
  const head: Json = { id: `chatcmpl-${randomUUID()}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: providerModel };
  const chunk = (index: number, delta: Json, finish: string | null = null): ChatChunk => ({
    json: withFields(head, { choices: [{ index, delta, logprobs: null, finish_reason: finish }] }),
  });
  const toolCalls = new Map<number, number>();
  const opened = new Set<number>();
  let usage: Usage | undefined;
  let finished = false;

  for await (const event of events) {
    if (typeof event["modelVersion"] === "string") head["model"] = event["modelVersion"];
    usage = fromGeminiUsage(event["usageMetadata"]) ?? usage;
    if (blocked(event)) {
      yield chunk(0, { role: "assistant", content: "" }, "content_filter");
      finished = true;
    }
    for (const [i, candidate] of jsonArray(event["candidates"]).entries()) {
      const index = typeof candidate["index"] === "number" ? candidate["index"] : i;
      if (!opened.has(index)) {
        opened.add(index);
        yield chunk(index, { role: "assistant", content: "" });
      }
      const { text, reasoning, calls } = deltaOf(candidate);
      if (reasoning !== "") yield chunk(index, { reasoning_content: reasoning });
      if (text !== "") yield chunk(index, { content: text });
      for (const call of calls) {
        const n = toolCalls.get(index) ?? 0;
        toolCalls.set(index, n + 1);
        const fn = { name: call.name, arguments: JSON.stringify(call.args) };
        yield chunk(index, { tool_calls: [{ index: n, id: toolCallId(call.signature), type: "function", function: fn }] });
      }
      if (candidate["finishReason"] !== undefined) {
        yield chunk(index, {}, finishReason(candidate["finishReason"], toolCalls.has(index)));
        finished = true;
      }
    }
  }
  if (!finished) throw new ProviderError("gemini stream ended before it was complete", 502, "api_error");
  if (usage) yield { json: withFields(head, { choices: [], usage: toOpenAIUsage(usage) }) };
}
