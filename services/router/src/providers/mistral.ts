import { MISTRAL_CHAT_PARAMS, toMistralRequest } from "../translate/mistral-request.js";
import { fromMistralChunks, normalizeMistralAnswer } from "../translate/mistral-response.js";
import { fromOpenAIUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { postJson, readEvents, readJsonObjectBytes } from "./http.js";
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
      return fromMistralChunks(chatChunks(provider, readEvents(response, provider, call), call.deployment.apiKey));
    },
  };
}

export const mistralAdapter = mistralAt("mistral", "https://api.mistral.ai/v1");
/** Mistral's code models at their own address, with a key of their own. */
export const codestralAdapter = mistralAt("codestral", "https://codestral.mistral.ai/v1");
