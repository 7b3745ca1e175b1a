import { MISTRAL_CHAT_PARAMS, toMistralRequest } from "../translate/mistral-request.js";
import { fromMistralChunks, normalizeMistralAnswer } from "../translate/mistral-response.js";
import { fromOpenAIUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { postJson, readEvents, readJsonObjectBytes } from "./http.js";
import { chatChunks, openAICompatible, openAIEndpointAt } from "./openai.js";
import type { ProviderAdapter, ProviderCall } from "./provider.js";

const MISTRAL_API_BASE = "https://api.mistral.ai/v1";

// As LiteLLM does, an api_base without its /v1 gets one.
const endpoint = perDeployment((d) => {
  const base = d.apiBase ?? MISTRAL_API_BASE;
  return openAIEndpointAt(base.endsWith("/v1") ? base : `${base}/v1`, d.apiKey);
});

function post(call: ProviderCall, stream: boolean) {
  const d = call.deployment;
  const { chatUrl, headers } = endpoint(d);
  return postJson("mistral", { url: chatUrl, headers, body: toMistralRequest(call.body, d.providerModel, stream), call, secret: d.apiKey });
}

/**
 * Mistral AI (api.mistral.ai, or the same API elsewhere): OpenAI's chat and
 * embeddings, with the requests fitted to the fields Mistral takes. Text
 * completions, Anthropic Messages and the Responses API go through chat.
 */
export const mistralAdapter: ProviderAdapter = {
  chatParams: MISTRAL_CHAT_PARAMS,
  embeddingParams: new Set(["model", "input", "encoding_format"]),
  embeddings: openAICompatible("mistral", endpoint).embeddings!,

  async chat(call) {
    const { value, bytes } = await readJsonObjectBytes(await post(call, false), "mistral", call.signal);
    const usage = fromOpenAIUsage(value["usage"]);
    // Passed on as sent unless it needed changing.
    return normalizeMistralAnswer(value) ? { response: value, usage } : { response: value, bytes, usage };
  },

  async chatStream(call) {
    const response = await post(call, true);
    return fromMistralChunks(chatChunks("mistral", readEvents(response, "mistral", call), call.deployment.apiKey));
  },
};
