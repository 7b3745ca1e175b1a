import { randomUUID } from "node:crypto";
import { estimateTokens, messagesText, withFields } from "@gateway/common";
import { TEXT_COMPLETIONS } from "../text-completion.js";
import type { ChatChunk, ChatResult, Json, ProviderAdapter, ProviderCall, Usage } from "./provider.js";

// LiteLLM's mock_response: the deployment answers with fixed text and calls
// no one. The shipped demo config uses it, so a fresh install answers a curl.

function usage(prompt: string, text: string): Usage {
  return {
    promptTokens: estimateTokens(prompt),
    completionTokens: estimateTokens(text),
    cachedTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
  };
}

function base(call: ProviderCall, object: string) {
  return { id: `chatcmpl-${randomUUID()}`, object, created: Math.floor(Date.now() / 1000), model: call.deployment.providerModel };
}

export const mockAdapter: ProviderAdapter = {
  async chat(call): Promise<ChatResult> {
    const text = call.deployment.mockResponse ?? "";
    const u = usage(messagesText(call.body["messages"]), text);
    return {
      response: {
        ...base(call, "chat.completion"),
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: openAIUsage(u),
      },
      usage: u,
    };
  },

  async chatStream(call) {
    const text = call.deployment.mockResponse ?? "";
    return mockChunks(base(call, "chat.completion.chunk"), text.split(/(?<= )/), usage(messagesText(call.body["messages"]), text));
  },

  async textCompletion(call): Promise<ChatResult> {
    const text = call.deployment.mockResponse ?? "";
    const u = usage(TEXT_COMPLETIONS.promptText(call.body), text);
    return {
      response: { ...base(call, "text_completion"), choices: [{ index: 0, text, logprobs: null, finish_reason: "stop" }], usage: openAIUsage(u) },
      usage: u,
    };
  },

  async textCompletionStream(call) {
    const text = call.deployment.mockResponse ?? "";
    return mockTextChunks(base(call, "text_completion"), text.split(/(?<= )/), usage(TEXT_COMPLETIONS.promptText(call.body), text));
  },
};

function openAIUsage(u: Usage): Json {
  return { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
}

// A module function, not a generator made per request: those cost a streamed request dearly (docs/design-notes.md).
async function* mockChunks(head: Json, words: string[], u: Usage): AsyncGenerator<ChatChunk> {
  const chunk = (fields: Json): ChatChunk => ({ json: withFields(head, fields) });
  yield chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] });
  for (const word of words) yield chunk({ choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
  yield chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  yield chunk({ choices: [], usage: openAIUsage(u) });
}

async function* mockTextChunks(head: Json, words: string[], u: Usage): AsyncGenerator<ChatChunk> {
  const chunk = (fields: Json): ChatChunk => ({ json: withFields(head, fields) });
  for (const word of words) yield chunk({ choices: [{ index: 0, text: word, logprobs: null, finish_reason: null }] });
  yield chunk({ choices: [{ index: 0, text: "", logprobs: null, finish_reason: "stop" }] });
  yield chunk({ choices: [], usage: openAIUsage(u) });
}
