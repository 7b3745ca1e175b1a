import { badRequest } from "../translate/content.js";
import { FIM_PARAMS, MISTRAL_CHAT_PARAMS, toFimRequest, toMistralRequest } from "../translate/mistral-request.js";
import { fromMistralChunks, normalizeMistralAnswer } from "../translate/mistral-response.js";
import { fitParams } from "../translate/params.js";
import { textChunksFromChat, textCompletionFromChat } from "../translate/text-completions.js";
import { fromOpenAIUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { postJson, readEvents, readJsonObject, readJsonObjectBytes, scrubberFor } from "./http.js";
import { chatChunks, openAICompatible, openAIEndpointAt } from "./openai.js";
import type { ProviderAdapter, ProviderCall } from "./provider.js";

/**
 * Mistral AI's API at `defaultBase` (api.mistral.ai, or Codestral's own
 * address) or a deployment's api_base: OpenAI's chat and embeddings, with the
 * requests fitted to the fields Mistral takes. Text completions, Anthropic
 * Messages and the Responses API go through chat.
 */
function mistralAt(provider: string, defaultBase: string): ProviderAdapter {
  // As LiteLLM does, an api_base without its /v1 gets one.
  const endpoint = perDeployment((d) => {
    const base = d.apiBase ?? defaultBase;
    return openAIEndpointAt(base.endsWith("/v1") ? base : `${base}/v1`, d.apiKey);
  });

  function post(call: ProviderCall, stream: boolean) {
    const d = call.deployment;
    const { chatUrl, headers } = endpoint(d);
    return postJson(provider, { url: chatUrl, headers, body: toMistralRequest(call.body, d.providerModel, stream), call, secret: d.apiKey });
  }

  return {
    chatParams: MISTRAL_CHAT_PARAMS,
    embeddingParams: new Set(["model", "input", "encoding_format"]),
    embeddings: openAICompatible(provider, endpoint).embeddings!,

    async chat(call) {
      const { value, bytes } = await readJsonObjectBytes(await post(call, false), provider, call.signal);
      const usage = fromOpenAIUsage(value["usage"]);
      // Passed on as sent unless it needed changing.
      return normalizeMistralAnswer(value) ? { response: value, usage } : { response: value, bytes, usage };
    },

    async chatStream(call) {
      const response = await post(call, true);
      return fromMistralChunks(chatChunks(provider, readEvents(response, provider, call), scrubberFor(call.deployment.apiKey, call.deployment)));
    },
  };
}

export const mistralAdapter = mistralAt("mistral", "https://api.mistral.ai/v1");
/** Mistral's code models at their own address, with a key of their own. */
export const codestralAdapter = mistralAt("codestral", "https://codestral.mistral.ai/v1");

const FIM_PROVIDER = "text-completion-codestral";
// LiteLLM's default address for text-completion-codestral/: the endpoint itself.
const FIM_URL = "https://codestral.mistral.ai/v1/fim/completions";

// api_base may be the endpoint itself (LiteLLM's form), or Codestral's base with or without its /v1.
const fimEndpoint = perDeployment((d) => {
  const base = d.apiBase ?? FIM_URL;
  const url = base.endsWith("/fim/completions") ? base : `${base.endsWith("/v1") ? base : `${base}/v1`}/fim/completions`;
  return { url, headers: d.apiKey ? { authorization: `Bearer ${d.apiKey}` } : {} };
});

function postFim(call: ProviderCall, stream: boolean) {
  const d = call.deployment;
  const { url, headers } = fimEndpoint(d);
  const body = toFimRequest(fitParams(call.body, FIM_PARAMS, d.dropParams, d.provider), d.providerModel, stream);
  return postJson(FIM_PROVIDER, { url, headers, body, call, secret: d.apiKey });
}

const chatRefused = () => Promise.reject(badRequest(`${FIM_PROVIDER} deployments answer text completions (/v1/completions) only; for chat use codestral/`, "model"));

/**
 * Codestral's fill-in-the-middle completions (LiteLLM's
 * text-completion-codestral/): OpenAI text completions, `suffix` included,
 * answered by /v1/fim/completions in chat's shapes and given back as text
 * completions. Nothing else: chat goes to codestral/.
 */
export const codestralFimAdapter: ProviderAdapter = {
  // No chatParams: a chat call reaches chatRefused as it is, to be told where chat goes.
  chat: chatRefused,
  chatStream: chatRefused,

  async textCompletion(call) {
    const answer = await readJsonObject(await postFim(call, false), FIM_PROVIDER, call.signal);
    normalizeMistralAnswer(answer);
    return { response: textCompletionFromChat(answer), usage: fromOpenAIUsage(answer["usage"]) };
  },

  async textCompletionStream(call) {
    const response = await postFim(call, true);
    return textChunksFromChat(fromMistralChunks(chatChunks(FIM_PROVIDER, readEvents(response, FIM_PROVIDER, call), scrubberFor(call.deployment.apiKey, call.deployment))));
  },
};
