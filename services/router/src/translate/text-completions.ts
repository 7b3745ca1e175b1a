import type { ChatChunk, Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, jsonArray, str } from "./content.js";
import { unsupportedParam } from "./params.js";

// OpenAI's text completions as chat completions and back, for deployments
// whose provider has only chat (Anthropic, Gemini): the prompt becomes one
// user message, and the answer's message or deltas the completion's text.

/** The text completion parameters a chat completion carries as they are (the provider's own fitting follows). */
const CARRIED = new Set(["model", "max_tokens", "temperature", "top_p", "stop", "stream", "stream_options", "user", "seed", "presence_penalty", "frequency_penalty", "n"]);

/** The one prompt a chat (or a fill-in-the-middle) can take: a string, or an array holding one string. */
export function onePrompt(prompt: unknown): string {
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") return prompt[0];
  throw badRequest("several prompts, or prompts as token arrays, are answered only by deployments that speak OpenAI's API", "prompt");
}

/**
 * The chat request for a text completion body. Parameters chat lacks (echo,
 * suffix, best_of, logprobs, …) are dropped under drop_params and refused
 * with a 400 naming them when not.
 */
export function toChatFromPrompt(body: OpenAIBody, dropParams: boolean, provider: string): OpenAIBody {
  const chat: OpenAIBody = { messages: [{ role: "user", content: onePrompt(body["prompt"]) }] };
  for (const [name, value] of Object.entries(body)) {
    if (CARRIED.has(name)) chat[name] = value;
    else if (name !== "prompt" && value !== null && !dropParams) throw unsupportedParam(name, provider);
  }
  return chat;
}

/** A chat choice's text: its message's or delta's content. */
function choiceText(choice: Json, part: "message" | "delta"): string {
  return str((choice[part] as Json | undefined)?.["content"]) ?? "";
}

/** A chat.completion as a text_completion. */
export function textCompletionFromChat(completion: Json): Json {
  const choices = jsonArray(completion["choices"]).map((choice) => ({
    text: choiceText(choice, "message"),
    index: choice["index"] ?? 0,
    logprobs: null,
    finish_reason: choice["finish_reason"] ?? null,
  }));
  return { id: completion["id"], object: "text_completion", created: completion["created"], model: completion["model"], choices, usage: completion["usage"] };
}

/** A chat.completion.chunk as a text_completion chunk; a usage chunk (no choices) keeps its usage. */
function textChunkFromChat({ json }: ChatChunk): ChatChunk {
  const choices = jsonArray(json["choices"]).map((choice) => ({
    text: choiceText(choice, "delta"),
    index: choice["index"] ?? 0,
    logprobs: null,
    finish_reason: choice["finish_reason"] ?? null,
  }));
  const chunk: Json = { id: json["id"], object: "text_completion", created: json["created"], model: json["model"], choices };
  if (json["usage"] !== undefined) chunk["usage"] = json["usage"];
  return { json: chunk };
}

/** A chat stream's chunks as text_completion chunks. */
export async function* textChunksFromChat(chunks: AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
  for await (const chunk of chunks) yield textChunkFromChat(chunk);
}
