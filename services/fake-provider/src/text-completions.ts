import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { Refusal } from "./openai-errors.js";
import { completionTokens, countTokens, planReply, sendJson, splitWords, writeEvents, type Json } from "./reply.js";

// OpenAI's legacy text completions (POST /v1/completions): a prompt in, text
// out, streamed as text_completion chunks. Like OpenAI, a request without
// max_tokens gets 16 tokens at most.

const DEFAULT_MAX_TOKENS = 16;

/** What a text completion answers, before it goes out whole or streamed. */
export interface TextReply {
  model: string;
  text: string;
  finish: "stop" | "length";
  usage: Json;
}

/** The prompt's text: a string, or an array's strings (token arrays count as no text). */
function promptOf(prompt: unknown): string | undefined {
  if (typeof prompt === "string") return prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) return undefined;
  return prompt.filter((p): p is string => typeof p === "string").join("");
}

/** The reply to a text completion request, or why it is refused. */
export function planTextCompletion(body: Json, behavior: Behavior): TextReply | Refusal {
  const prompt = promptOf(body.prompt);
  if (typeof body.model !== "string") return new Refusal("You must provide a model parameter.");
  if (prompt === undefined) return new Refusal("'prompt' must be a string or a non-empty array.", "prompt");
  const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : DEFAULT_MAX_TOKENS;
  const outcome = planReply({ toolName: undefined, endsWithUser: true, lastUserText: prompt, maxTokens }, behavior);
  const promptTokens = countTokens(prompt);
  return {
    model: body.model,
    text: outcome.kind === "text" ? outcome.text : "",
    finish: outcome.kind === "text" && outcome.truncated ? "length" : "stop",
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens(outcome), total_tokens: promptTokens + completionTokens(outcome) },
  };
}

function head(reply: TextReply, id: string): Json {
  return { id, object: "text_completion", created: Math.floor(Date.now() / 1000), model: reply.model };
}

/** The whole text_completion object, as the endpoint answers without streaming. */
export function textCompletionObject(reply: TextReply, id: string): Json {
  return { ...head(reply, id), choices: [{ text: reply.text, index: 0, logprobs: null, finish_reason: reply.finish }], usage: reply.usage };
}

/** Answers a text completion, whole or streamed as the body asks. */
export async function textCompletion(res: ServerResponse, signal: AbortSignal, body: Json, reply: TextReply, behavior: Behavior, id: string): Promise<void> {
  if (body.stream !== true) return sendJson(res, 200, textCompletionObject(reply, id), behavior.rateLimitHeaders);
  const opening = head(reply, id);
  const includeUsage = typeof body.stream_options === "object" && (body.stream_options as Json | null)?.include_usage === true && !behavior.omitStreamUsage;
  const chunk = (piece: string, finishReason: string | null): Json => ({
    ...opening,
    choices: [{ text: piece, index: 0, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage && { usage: null }),
  });
  const pieces = splitWords(reply.text);
  const events = [...pieces.map((piece) => chunk(piece, null)), chunk("", reply.finish)];
  if (includeUsage) events.push({ ...opening, choices: [], usage: reply.usage });
  const lines = [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
  const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : Math.min(behavior.breakStreamAfterChunks, pieces.length);
  await writeEvents(res, signal, behavior, lines, breakAt);
}
