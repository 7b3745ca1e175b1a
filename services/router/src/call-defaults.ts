import { withFields } from "@gateway/common";
import type { Json } from "./providers/provider.js";

// Which of a deployment's call parameters (litellm_params) each call type
// takes, by the names its request body uses. A Messages body shares
// Anthropic's names for these four; a Responses body has its own for the
// output limit and the effort, so it takes only the common ones.
const SAMPLING = ["temperature", "top_p", "user"];

export const CHAT_DEFAULTS: ReadonlySet<string> = new Set([
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
]);
// Legacy completions' logprobs is a count, not chat's switch: it is left out.
export const TEXT_COMPLETION_DEFAULTS: ReadonlySet<string> = new Set([
  ...SAMPLING,
  "n",
  "stop",
  "max_tokens",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "seed",
]);
export const EMBEDDING_DEFAULTS: ReadonlySet<string> = new Set(["dimensions", "encoding_format", "user"]);
export const MESSAGES_DEFAULTS: ReadonlySet<string> = new Set(["temperature", "top_p", "top_k", "max_tokens"]);
export const RESPONSES_DEFAULTS: ReadonlySet<string> = new Set(SAMPLING);

// Two names for one limit: a request that sets either has set it.
const SAME_AS: Readonly<Record<string, string>> = { max_tokens: "max_completion_tokens", max_completion_tokens: "max_tokens" };

/**
 * The body with the deployment's call parameters it takes and does not set
 * itself (LiteLLM's order: what the request says wins). Unchanged, and not
 * copied, when nothing is added.
 */
export function withCallDefaults(body: Json, defaults: Json | undefined, takes: ReadonlySet<string>): Json {
  if (defaults === undefined) return body;
  let added: Json | undefined;
  for (const name in defaults) {
    if (!takes.has(name) || body[name] !== undefined) continue;
    const same = SAME_AS[name];
    if (same !== undefined && body[same] !== undefined) continue;
    added ??= {};
    added[name] = defaults[name];
  }
  return added ? withFields(body, added) : body;
}
