import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { OpenAIApi } from "./chat-completion.js";
import type { ChatChunk, ChatResult, OpenAIBody, ProviderAdapter, ProviderCall } from "./providers/provider.js";
import { fitParams } from "./translate/params.js";
import { textChunksFromChat, textCompletionFromChat, toChatFromPrompt } from "./translate/text-completions.js";

// OpenAI's legacy text completions (/v1/completions): a prompt in, text out.
// Providers that speak OpenAI's API (OpenAI, Azure, vLLM, Ollama, …) answer
// them as they are; the others answer them as a chat.

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

/** A text completion on a provider that has only chat: the prompt as a chat, the answer back as a text completion. */
async function answerViaChat(adapter: ProviderAdapter, call: ProviderCall): Promise<ChatResult> {
  const result = await adapter.chat(viaChat(adapter, call));
  return { response: textCompletionFromChat(result.response), usage: result.usage };
}

async function streamViaChat(adapter: ProviderAdapter, call: ProviderCall): Promise<AsyncIterable<ChatChunk>> {
  return textChunksFromChat(await adapter.chatStream(viaChat(adapter, call)));
}

/** The chat call a text completion becomes, fitted to what the provider's chat takes. */
function viaChat(adapter: ProviderAdapter, call: ProviderCall): ProviderCall {
  const d = call.deployment;
  const body = toChatFromPrompt(call.body, d.dropParams, d.provider);
  return { ...call, body: fitParams(body, adapter.chatParams, d.dropParams, d.provider) };
}

export const TEXT_COMPLETIONS: OpenAIApi = {
  // Providers that speak OpenAI take any parameter; the others are fitted once the prompt is a chat (viaChat).
  params: () => undefined,
  promptText,
  answer: (adapter, call) => adapter.textCompletion?.(call) ?? answerViaChat(adapter, call),
  stream: (adapter, call) => adapter.textCompletionStream?.(call) ?? streamViaChat(adapter, call),
};
