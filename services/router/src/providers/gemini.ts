import { str } from "../translate/content.js";
import { fromGeminiEmbeddings, GEMINI_EMBEDDING_PARAMS, toGeminiEmbeddingsRequest } from "../translate/gemini-embeddings.js";
import { GEMINI_CHAT_PARAMS, toGeminiRequest } from "../translate/gemini-request.js";
import { chunksFromGemini, fromGeminiResponse } from "../translate/gemini-response.js";
import { perDeployment } from "./endpoint.js";
import { eventJson, postJson, readEvents, readJsonObject, scrub } from "./http.js";
import { ProviderError, type Json, type ProviderAdapter, type ProviderCall } from "./provider.js";

const GEMINI_API_BASE = "https://generativelanguage.googleapis.com";
const API_VERSION = "v1beta";

// The key goes in a header rather than ?key=, so it stays out of URLs and whatever logs them.
const endpoint = perDeployment((d) => {
  const base = d.apiBase ?? GEMINI_API_BASE;
  const versioned = /\/v1(beta|alpha)?$/.test(base) ? base : `${base}/${API_VERSION}`;
  const model = `${versioned}/models/${encodeURIComponent(d.providerModel)}`;
  return {
    modelName: `models/${d.providerModel}`,
    generateUrl: `${model}:generateContent`,
    streamUrl: `${model}:streamGenerateContent?alt=sse`,
    embedUrl: `${model}:batchEmbedContents`,
    headers: d.apiKey ? { "x-goog-api-key": d.apiKey } : {},
  };
});

function post(call: ProviderCall, url: string, body: Json) {
  const d = call.deployment;
  return postJson("gemini", { url, headers: endpoint(d).headers, body, call, secret: d.apiKey });
}

/** The stream's events as JSON; an error event throws. */
async function* events(call: ProviderCall, response: Awaited<ReturnType<typeof postJson>>): AsyncGenerator<Json> {
  for await (const event of readEvents(response, "gemini", call)) {
    const json = eventJson(event.data, "gemini");
    const error = json["error"] as Json | undefined;
    if (error) throw new ProviderError(`gemini error: ${scrub(str(error["message"]) ?? "stream failed", call.deployment.apiKey)}`, 502, "api_error");
    yield json;
  }
}

/** Google's Gemini API (generateContent, streamGenerateContent, batchEmbedContents) with an API key. */
export const geminiAdapter: ProviderAdapter = {
  chatParams: GEMINI_CHAT_PARAMS,
  embeddingParams: GEMINI_EMBEDDING_PARAMS,

  async chat(call) {
    const response = await post(call, endpoint(call.deployment).generateUrl, toGeminiRequest(call.body, call.deployment.providerModel));
    return fromGeminiResponse(await readJsonObject(response, "gemini", call.signal), call.deployment.providerModel);
  },

  async chatStream(call) {
    const response = await post(call, endpoint(call.deployment).streamUrl, toGeminiRequest(call.body, call.deployment.providerModel));
    return chunksFromGemini(events(call, response), call.deployment.providerModel);
  },

  async embeddings(call) {
    const d = call.deployment;
    const response = await post(call, endpoint(d).embedUrl, toGeminiEmbeddingsRequest(call.body, endpoint(d).modelName));
    return fromGeminiEmbeddings(await readJsonObject(response, "gemini", call.signal), call.body, d.providerModel);
  },
};
