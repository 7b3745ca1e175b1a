import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { OpenAIApi } from "./chat-completion.js";
import type { OpenAIBody, ProviderCall } from "./providers/provider.js";

// OpenAI's legacy text completions (/v1/completions): a prompt in, text out,
// served by the providers that speak OpenAI's API (OpenAI, Azure, vLLM,
// Ollama, …); a deployment of another provider refuses them.

export function validateTextCompletionBody(body: OpenAIBody): void {
  const prompt = body["prompt"];
  if (typeof prompt === "string" ? prompt === "" : !Array.isArray(prompt) || prompt.length === 0) {
    throw gatewayError("prompt must be a non-empty string or array", Code.InvalidArgument, { type: "invalid_request_error", param: "prompt" });
  }
}

/** The prompt's text, for estimating its tokens: a string, or the strings of an array (token arrays hold none). */
function promptText(body: OpenAIBody): string {
  const prompt = body["prompt"];
  if (typeof prompt === "string") return prompt;
  return Array.isArray(prompt) ? prompt.filter((p): p is string => typeof p === "string").join("") : "";
}

/** A deployment's refusal: its provider has no text completions. */
function unserved(call: ProviderCall): never {
  const d = call.deployment;
  throw gatewayError(`model ${d.modelGroup} does not serve text completions (${d.provider} deployment ${d.id}); use /v1/chat/completions`, Code.InvalidArgument, {
    type: "invalid_request_error",
    param: "model",
  });
}

export const TEXT_COMPLETIONS: OpenAIApi = {
  // Only providers that speak OpenAI serve them, and those take any parameter.
  params: () => undefined,
  promptText,
  answer: (adapter, call) => adapter.textCompletion?.(call) ?? unserved(call),
  stream: (adapter, call) => adapter.textCompletionStream?.(call) ?? unserved(call),
};
