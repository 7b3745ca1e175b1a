import { createHash } from "node:crypto";
import type { Json, OpenAIBody } from "../providers/provider.js";
import { jsonArray, str } from "./content.js";
import { onePrompt } from "./text-completions.js";

// An OpenAI chat request as Mistral AI's chat completions take it, for
// mistral/ deployments. Mistral's API speaks OpenAI's shapes but refuses any
// field it does not know (422, "extra_forbidden"), so what is sent is built
// from what it takes. Field names are from Mistral's public API reference.

/** The OpenAI chat parameters Mistral takes, as they are or renamed (seed, max_completion_tokens). */
export const MISTRAL_CHAT_PARAMS: ReadonlySet<string> = new Set([
  "model",
  "messages",
  "stream",
  // Not sent: Mistral refuses it, and reports a stream's usage unasked.
  "stream_options",
  "temperature",
  "top_p",
  "max_tokens",
  "max_completion_tokens",
  "stop",
  "seed",
  "n",
  "presence_penalty",
  "frequency_penalty",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "response_format",
  "prediction",
  // Mistral's own.
  "random_seed",
  "safe_prompt",
]);

// Mistral's tool-call ids: nine letters and digits, as its own answers give them.
const MISTRAL_CALL_ID = /^[A-Za-z0-9]{9}$/;
const ID_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A tool-call id as Mistral takes it: its own as they are, any other (a
 * conversation begun on another model: `call_…`, `toolu_…`) as nine letters
 * and digits derived from it, the same for the call and its result.
 */
export function mistralCallId(id: unknown): unknown {
  if (typeof id !== "string" || MISTRAL_CALL_ID.test(id)) return id;
  const digest = createHash("sha256").update(id).digest();
  let out = "";
  for (let i = 0; i < 9; i++) out += ID_LETTERS[digest[i]! % ID_LETTERS.length];
  return out;
}

/** What a message may carry at Mistral; what clients send back from OpenAI's answers (refusal, audio, …) is left out. */
const MESSAGE_FIELDS = ["role", "content", "tool_calls", "tool_call_id", "name", "prefix"];

/**
 * A message as Mistral takes it, or none: an assistant turn with nothing in
 * it is refused there, `name` is taken on tool results only, and an unset
 * field is left out rather than sent as null.
 */
function toMistralMessage(message: Json): Json[] {
  const sent: Json = {};
  for (const field of MESSAGE_FIELDS) {
    const value = message[field];
    if (value !== null && value !== undefined) sent[field] = value;
  }
  if (sent["role"] === "developer") sent["role"] = "system";
  if (sent["name"] !== undefined && (sent["role"] !== "tool" || str(sent["name"])?.trim() === "")) delete sent["name"];
  const calls = jsonArray(sent["tool_calls"]);
  if (calls.length > 0) sent["tool_calls"] = calls.map((call) => ({ id: mistralCallId(call["id"]), type: "function", function: call["function"] }));
  else delete sent["tool_calls"];
  if (sent["tool_call_id"] !== undefined) sent["tool_call_id"] = mistralCallId(sent["tool_call_id"]);
  if (sent["role"] === "assistant" && (sent["content"] === undefined || sent["content"] === "") && calls.length === 0) return [];
  return [sent];
}

export function toMistralRequest(body: OpenAIBody, model: string, stream: boolean): Json {
  const { messages, stream_options: _, max_completion_tokens, seed, tool_choice, ...rest } = body;
  const request: Json = { ...rest, model, stream, messages: jsonArray(messages).flatMap(toMistralMessage) };
  // max_completion_tokens is OpenAI's newer name for max_tokens, and wins over it.
  if (max_completion_tokens !== undefined && max_completion_tokens !== null) request["max_tokens"] = max_completion_tokens;
  if (seed !== undefined && seed !== null && request["random_seed"] === undefined) request["random_seed"] = seed;
  // Mistral's name for "call some tool" is "any".
  if (tool_choice !== undefined) request["tool_choice"] = tool_choice === "required" ? "any" : tool_choice;
  return request;
}

/** The text completion parameters Codestral's fill-in-the-middle takes (as they are, or seed as random_seed). */
export const FIM_PARAMS: ReadonlySet<string> = new Set(["model", "prompt", "suffix", "max_tokens", "temperature", "top_p", "stop", "stream", "stream_options", "seed"]);

/** Codestral's fill-in-the-middle request for an OpenAI text completion body (already fitted to FIM_PARAMS). */
export function toFimRequest(body: OpenAIBody, model: string, stream: boolean): Json {
  const request: Json = { model, prompt: onePrompt(body["prompt"]), stream };
  for (const name of ["suffix", "max_tokens", "temperature", "top_p", "stop"]) if (body[name] !== undefined && body[name] !== null) request[name] = body[name];
  if (body["seed"] !== undefined && body["seed"] !== null) request["random_seed"] = body["seed"];
  return request;
}
