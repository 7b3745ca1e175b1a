import { withFields } from "@gateway/common";
import type { Json } from "./providers/provider.js";

// Which of a deployment's call parameters (litellm_params, OpenAI's names)
// each call type takes, and the name its request body has for each: a
// Messages body has Anthropic's (stop_sequences), a Responses body its own
// (max_output_tokens, and reasoning_effort as reasoning.effort). A Messages
// body has no effort of its own: reasoning_effort does not reach it.
type Field = string | readonly [outer: string, inner: string];
export type Takes = ReadonlyMap<string, Field>;
const asIs = (names: string[]): [string, Field][] => names.map((name) => [name, name]);
const SAMPLING = ["temperature", "top_p", "user"];

export const CHAT_DEFAULTS: Takes = new Map(
  asIs([
    ...SAMPLING,
    "top_k",
    "n",
    "stop",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "seed",
    "response_format",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
  ]),
);
// Legacy completions' logprobs is a count, not chat's switch: it is left out.
export const TEXT_COMPLETION_DEFAULTS: Takes = new Map(asIs([...SAMPLING, "n", "stop", "max_tokens", "presence_penalty", "frequency_penalty", "logit_bias", "seed"]));
export const EMBEDDING_DEFAULTS: Takes = new Map(asIs(["dimensions", "encoding_format", "user"]));
export const IMAGE_DEFAULTS: Takes = new Map(asIs(["user"]));
export const SPEECH_DEFAULTS: Takes = new Map();
export const TRANSCRIPTION_DEFAULTS: Takes = new Map(asIs(["temperature"]));
export const RERANK_DEFAULTS: Takes = new Map();
export const MODERATION_DEFAULTS: Takes = new Map();
// A generateContent body takes them once it is a chat request (generate-content.ts).
export const GENERATE_CONTENT_DEFAULTS: Takes = new Map();
// An embedContent body takes them once it is an embeddings request (embed-content.ts).
export const EMBED_CONTENT_DEFAULTS: Takes = new Map();
export const MESSAGES_DEFAULTS: Takes = new Map([
  ...asIs(["temperature", "top_p", "top_k", "max_tokens"]),
  ["max_completion_tokens", "max_tokens"],
  ["stop", "stop_sequences"],
]);
export const RESPONSES_DEFAULTS: Takes = new Map([
  ...asIs(SAMPLING),
  ["max_tokens", "max_output_tokens"],
  ["max_completion_tokens", "max_output_tokens"],
  ["reasoning_effort", ["reasoning", "effort"]],
]);

// Two names for one limit: a request that sets either has set it.
const SAME_AS: Readonly<Record<string, string>> = { max_tokens: "max_completion_tokens", max_completion_tokens: "max_tokens" };

/**
 * The body with the deployment's call parameters it takes and does not set
 * itself (LiteLLM's order: what the request says wins). Unchanged, and not
 * copied, when nothing is added.
 */
export function withCallDefaults(body: Json, defaults: Json | undefined, takes: Takes): Json {
  if (defaults === undefined) return body;
  let added: Json | undefined;
  for (const name in defaults) {
    const field = takes.get(name);
    if (field === undefined) continue;
    if (typeof field !== "string") {
      const [outer, inner] = field;
      const within = body[outer] as Json | null | undefined;
      if (within?.[inner] !== undefined) continue;
      added ??= {};
      added[outer] = within ? withFields(within, { [inner]: defaults[name] }) : { [inner]: defaults[name] };
      continue;
    }
    if (body[field] !== undefined || added?.[field] !== undefined) continue;
    const same = SAME_AS[field];
    if (same !== undefined && (body[same] !== undefined || added?.[same] !== undefined)) continue;
    added ??= {};
    // OpenAI's stop may be one string; Anthropic's stop_sequences is a list.
    added[field] = field === "stop_sequences" ? [defaults[name]].flat() : defaults[name];
  }
  return added ? withFields(body, added) : body;
}
