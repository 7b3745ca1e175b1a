import type { Dispatcher } from "undici";
import { str } from "../translate/content.js";
import { fromGeminiEmbeddings, GEMINI_EMBEDDING_PARAMS, toGeminiEmbeddingsRequest } from "../translate/gemini-embeddings.js";
import { GEMINI_CHAT_PARAMS, toGeminiRequest } from "../translate/gemini-request.js";
import { chunksFromGemini, fromGeminiResponse } from "../translate/gemini-response.js";
import { fromGeminiUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { eventJson, fieldsOf, getJson, postJson, readEvents, readJsonObject, scrubberFor } from "./http.js";
import { ProviderError, type Json, type ProviderAdapter, type ProviderCall } from "./provider.js";

const GEMINI_API_BASE = "https://generativelanguage.googleapis.com";
const API_VERSION = "v1beta";
// Pages of Gemini's model list read, at its largest page size: far more models than it has.
const MODEL_PAGE = 1000;
const MOST_MODEL_PAGES = 10;

// The key goes in a header rather than ?key=, so it stays out of URLs and whatever logs them.
const endpoint = perDeployment((d) => {
  const base = d.apiBase ?? GEMINI_API_BASE;
  const versioned = /\/v1(beta|alpha)?$/.test(base) ? base : `${base}/${API_VERSION}`;
  const model = `${versioned}/models/${encodeURIComponent(d.providerModel)}`;
  return {
    modelsUrl: `${versioned}/models`,
    modelName: `models/${d.providerModel}`,
    generateUrl: `${model}:generateContent`,
    streamUrl: `${model}:streamGenerateContent?alt=sse`,
    embedUrl: `${model}:batchEmbedContents`,
    headers: d.apiKey ? { "x-goog-api-key": d.apiKey } : {},
  };
});

/** Where one generateContent request goes, as whom; `secret` is scrubbed from what comes back. */
export interface GenerateTarget {
  url: string;
  headers: Record<string, string>;
  secret: string | undefined;
}

/** Where a host of Gemini models takes a generateContent request, whole or streamed (server-sent events). */
export type GeminiHost = (call: ProviderCall, stream: boolean) => GenerateTarget | Promise<GenerateTarget>;

/** The stream's events as JSON; an error event throws, `secret` and the deployment's header values taken out of it. */
async function* events(provider: string, call: ProviderCall, response: Dispatcher.ResponseData, secret: string | undefined): AsyncGenerator<Json> {
  const scrubbed = scrubberFor(secret, call.deployment);
  for await (const event of readEvents(response, provider, call)) {
    const json = eventJson(event.data, provider);
    const error = json["error"] as Json | undefined;
    if (error) throw new ProviderError(`${provider} error: ${scrubbed(str(error["message"]) ?? "stream failed")}`, 502, "api_error");
    yield json;
  }
}

/** Gemini's generateContent and streamGenerateContent at a host of Gemini models, OpenAI chat translated both ways. */
export function geminiAt(provider: string, host: GeminiHost): ProviderAdapter {
  /** Posts the call's body: a chat request translated to Gemini's, or (native) a Gemini request as it is. */
  async function post(call: ProviderCall, stream: boolean, native = false) {
    const { url, headers, secret } = await host(call, stream);
    const body = native ? call.body : toGeminiRequest(call.body, call.deployment.providerModel);
    const response = await postJson(provider, { url, headers, body, call, secret });
    return { response, secret };
  }

  return {
    chatParams: GEMINI_CHAT_PARAMS,

    async chat(call) {
      const { response } = await post(call, false);
      return fromGeminiResponse(await readJsonObject(response, provider, call.signal), call.deployment.providerModel);
    },

    async chatStream(call) {
      const { response, secret } = await post(call, true);
      return chunksFromGemini(events(provider, call, response, secret), call.deployment.providerModel);
    },

    async generateContent(call) {
      const { response } = await post(call, false, true);
      const json = await readJsonObject(response, provider, call.signal);
      return { response: json, usage: fromGeminiUsage(json["usageMetadata"]) };
    },

    async generateContentStream(call) {
      const { response, secret } = await post(call, true, true);
      return events(provider, call, response, secret);
    },
  };
}

/** Google's Gemini API (generateContent, streamGenerateContent, batchEmbedContents) with an API key. */
export const geminiAdapter: ProviderAdapter = {
  ...geminiAt("gemini", (call, stream) => {
    const d = call.deployment;
    const { generateUrl, streamUrl, headers } = endpoint(d);
    return { url: stream ? streamUrl : generateUrl, headers, secret: d.apiKey };
  }),
  embeddingParams: GEMINI_EMBEDDING_PARAMS,

  async embeddings(call) {
    const d = call.deployment;
    const { embedUrl, headers, modelName } = endpoint(d);
    const response = await postJson("gemini", { url: embedUrl, headers, body: toGeminiEmbeddingsRequest(call.body, modelName), call, secret: d.apiKey });
    return fromGeminiEmbeddings(await readJsonObject(response, "gemini", call.signal), call.body, d.providerModel);
  },

  async listModels(d, signal) {
    const { modelsUrl, headers } = endpoint(d);
    const names: string[] = [];
    let token = "";
    for (let page = 0; page < MOST_MODEL_PAGES; page++) {
      const list = await getJson("gemini", d, `${modelsUrl}?pageSize=${MODEL_PAGE}${token && `&pageToken=${encodeURIComponent(token)}`}`, headers, signal);
      // Gemini names them "models/gemini-2.5-flash"; calls name them without the prefix.
      names.push(...fieldsOf(list["models"], "name").map((name) => name.replace(/^models\//, "")));
      token = typeof list["nextPageToken"] === "string" ? list["nextPageToken"] : "";
      if (token === "") break;
    }
    return names;
  },
};
