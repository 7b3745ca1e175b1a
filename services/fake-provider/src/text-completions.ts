import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { completionTokens, countTokens, planReply, sendJson, splitWords, writeEvents, type Json } from "./reply.js";

// OpenAI's legacy text completions (POST /v1/completions): a prompt in, text
// out, streamed as text_completion chunks. Like OpenAI, a request without
// max_tokens gets 16 tokens at most.

const DEFAULT_MAX_TOKENS = 16;

/** The prompt's text: a string, or an array's strings (token arrays count as no text). */
export function promptOf(prompt: unknown): string | undefined {
  if (typeof prompt === "string") return prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) return undefined;
  return prompt.filter((p): p is string => typeof p === "string").join("");
}

/** Answers a text completion, whole or streamed; `prompt` is the body's prompt as promptOf reads it. */
export async function textCompletion(res: ServerResponse, signal: AbortSignal, body: Json, prompt: string, behavior: Behavior, id: string): Promise<void> {
  const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : DEFAULT_MAX_TOKENS;
  const outcome = planReply({ toolName: undefined, endsWithUser: true, lastUserText: prompt, maxTokens }, behavior);
  const text = outcome.kind === "text" ? outcome.text : "";
  const finish = outcome.kind === "text" && outcome.truncated ? "length" : "stop";
  const promptTokens = countTokens(prompt);
  const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens(outcome), total_tokens: promptTokens + completionTokens(outcome) };
  const head = { id, object: "text_completion", created: Math.floor(Date.now() / 1000), model: body.model };
  if (body.stream !== true) {
    return sendJson(res, 200, { ...head, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }], usage }, behavior.rateLimitHeaders);
  }
  const includeUsage = typeof body.stream_options === "object" && (body.stream_options as Json | null)?.include_usage === true && !behavior.omitStreamUsage;
  const chunk = (piece: string, finishReason: string | null): Json => ({
    ...head,
    choices: [{ text: piece, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage && { usage: null }),
  });
  const pieces = splitWords(text);
  const events = [...pieces.map((piece) => chunk(piece, null)), chunk("", finish)];
  if (includeUsage) events.push({ ...head, choices: [], usage });
  const lines = [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
  const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : Math.min(behavior.breakStreamAfterChunks, pieces.length);
  await writeEvents(res, signal, behavior, lines, breakAt);
}
