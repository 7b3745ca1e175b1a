import { withFields } from "@gateway/common";
import type { Deployment } from "../config/deployment.js";
import { fromOpenAIUsage, fromRerankUsage, fromResponsesUsage } from "../translate/usage.js";
import { perDeployment } from "./endpoint.js";
import { eventJson, fieldsOf, getJson, incompleteStream, postForm, postJson, readEvents, readJsonObject, readJsonObjectBytes, readMedia, scrubberFor } from "./http.js";
import { ProviderError, type ChatChunk, type ChatResult, type Json, type JsonResult, type NamedEvent, type ProviderAdapter, type ProviderCall } from "./provider.js";

const OPENAI_API_BASE = "https://api.openai.com/v1";

/** Where one deployment of an OpenAI-speaking provider is reached, built once. */
export interface OpenAIEndpoint {
  chatUrl: string;
  embeddingsUrl: string;
  textCompletionsUrl: string;
  imageGenerationsUrl: string;
  imageEditsUrl: string;
  speechUrl: string;
  transcriptionsUrl: string;
  /** OpenAI's Responses API, for the providers that serve it beside chat completions. */
  responsesUrl?: string;
  /** Reranking, which servers speaking OpenAI's API add beside it (vLLM, Together, Jina); Azure OpenAI has none. */
  rerankUrl?: string;
  /** OpenAI's moderations, which Azure OpenAI does not serve. */
  moderationsUrl?: string;
  /** OpenAI's Files and Batch APIs: a path's URL (/files, /batches/…) with a query. */
  accountUrl(path: string, query: string): string;
  /** The list of the models the key may call (GET /models), where the server's list names them as calls do (not Azure's). */
  modelsUrl?: string;
  headers: Record<string, string>;
}

/**
 * An adapter for a provider that speaks OpenAI's API; `endpoint` says where a
 * deployment is and how it authenticates. `streamUsage: false`: the
 * provider refuses stream_options, so a stream is sent without it and its
 * usage is counted locally (chat-completion.ts).
 */
export function openAICompatible(provider: string, endpoint: (d: Deployment) => OpenAIEndpoint, { streamUsage = true } = {}): ProviderAdapter {
  async function post(call: ProviderCall, url: string, body: Json) {
    const d = call.deployment;
    return postJson(provider, { url, headers: endpoint(d).headers, body, call, secret: d.apiKey });
  }

  /** Sends an upload's fields and files on as a multipart form, the model named as the deployment names it. */
  async function upload(call: ProviderCall, url: string) {
    const d = call.deployment;
    const form = new FormData();
    for (const [name, value] of Object.entries({ ...call.body, model: d.providerModel })) {
      for (const item of Array.isArray(value) ? value : [value]) form.append(name, item instanceof Blob ? item : String(item));
    }
    return postForm(provider, { url, headers: endpoint(d).headers, call, secret: d.apiKey }, form);
  }

  /** A route some of the provider's servers lack (Azure OpenAI's rerank and moderations): a 400 naming the provider where it is unset. */
  function optionalUrl(url: string | undefined, doesNot: string): string {
    if (url === undefined) throw new ProviderError(`${provider} deployments do not ${doesNot}`, 400, "invalid_request_error");
    return url;
  }

  /**
   * The client's body as the deployment takes it: OpenAI's reasoning models
   * refuse max_tokens, so it goes as max_completion_tokens (unless the body
   * has that too), as LiteLLM sends it.
   */
  function clientBody(call: ProviderCall): Json {
    const { body } = call;
    if (!call.deployment.maxCompletionTokensOnly || body["max_tokens"] === undefined) return body;
    const { max_tokens: maxTokens, ...rest } = body;
    return rest["max_completion_tokens"] === undefined || rest["max_completion_tokens"] === null ? withFields(rest, { max_completion_tokens: maxTokens }) : rest;
  }

  /** A whole answer from `url`: chat completions' or text completions', which answer alike. */
  async function answer(call: ProviderCall, url: string): Promise<ChatResult> {
    const d = call.deployment;
    const response = await post(call, url, withFields(clientBody(call), { model: d.providerModel, stream: false }));
    const { value, bytes } = await readJsonObjectBytes(response, provider, call.signal);
    return { response: value, bytes, usage: fromOpenAIUsage(value["usage"]) };
  }

  /** The body of a stream: asking for usage whether or not the client did, or, where the provider refuses to be asked, without stream_options. */
  function streamBody(call: ProviderCall): Json {
    const model = call.deployment.providerModel;
    const sent = clientBody(call);
    if (!streamUsage) {
      const { stream_options: _refused, ...body } = sent;
      return withFields(body, { model, stream: true });
    }
    const options = typeof sent["stream_options"] === "object" ? sent["stream_options"] : {};
    return withFields(sent, { model, stream: true, stream_options: withFields(options as Json, { include_usage: true }) });
  }

  /** A stream from `url`. */
  async function stream(call: ProviderCall, url: string): Promise<AsyncIterable<ChatChunk>> {
    const d = call.deployment;
    const body = streamBody(call);
    const response = await post(call, url, body);
    return chatChunks(provider, readEvents(response, provider, call), scrubberFor(d.apiKey, d));
  }

  return {
    chat: (call) => answer(call, endpoint(call.deployment).chatUrl),
    chatStream: (call) => stream(call, endpoint(call.deployment).chatUrl),
    textCompletion: (call) => answer(call, endpoint(call.deployment).textCompletionsUrl),
    textCompletionStream: (call) => stream(call, endpoint(call.deployment).textCompletionsUrl),
    accountApi: (d) => {
      const { accountUrl, headers } = endpoint(d);
      return { url: accountUrl, headers };
    },

    async listModels(d, signal) {
      const { modelsUrl, headers } = endpoint(d);
      if (modelsUrl === undefined) throw new ProviderError(`${provider} deployments do not list their models`, 400, "invalid_request_error");
      return fieldsOf((await getJson(provider, d, modelsUrl, headers, signal))["data"], "id");
    },

    async embeddings(call): Promise<JsonResult> {
      const d = call.deployment;
      const response = await post(call, endpoint(d).embeddingsUrl, { ...call.body, model: d.providerModel });
      const body = await readJsonObject(response, provider, call.signal);
      return { response: body, usage: fromOpenAIUsage(body["usage"]) };
    },

    async imageGenerations(call): Promise<JsonResult> {
      const d = call.deployment;
      const response = await post(call, endpoint(d).imageGenerationsUrl, { ...call.body, model: d.providerModel });
      const body = await readJsonObject(response, provider, call.signal);
      // GPT Image models count tokens as the Responses API does; DALL·E reports none.
      return { response: body, usage: fromResponsesUsage(body["usage"]) };
    },

    async speech(call) {
      const d = call.deployment;
      const response = await post(call, endpoint(d).speechUrl, { ...call.body, model: d.providerModel });
      return readMedia(response, provider, call.signal);
    },

    async imageEdits(call): Promise<JsonResult> {
      const response = await upload(call, endpoint(call.deployment).imageEditsUrl);
      const body = await readJsonObject(response, provider, call.signal);
      return { response: body, usage: fromResponsesUsage(body["usage"]) };
    },

    async transcription(call) {
      return readMedia(await upload(call, endpoint(call.deployment).transcriptionsUrl), provider, call.signal);
    },

    async rerank(call): Promise<JsonResult> {
      const d = call.deployment;
      const response = await post(call, optionalUrl(endpoint(d).rerankUrl, "rerank"), { ...call.body, model: d.providerModel });
      const body = await readJsonObject(response, provider, call.signal);
      return { response: body, usage: fromRerankUsage(body["usage"]) };
    },

    async moderations(call): Promise<JsonResult> {
      const d = call.deployment;
      const response = await post(call, optionalUrl(endpoint(d).moderationsUrl, "moderate"), { ...call.body, model: d.providerModel });
      // OpenAI's answer reports no usage: moderations are free.
      return { response: await readJsonObject(response, provider, call.signal), usage: undefined };
    },

    async responses(call): Promise<ChatResult> {
      const d = call.deployment;
      const response = await post(call, responsesUrl(d), withFields(call.body, { model: d.providerModel, stream: false }));
      const { value, bytes } = await readJsonObjectBytes(response, provider, call.signal);
      return { response: value, bytes, usage: fromResponsesUsage(value["usage"]) };
    },

    async responsesStream(call) {
      const d = call.deployment;
      const response = await post(call, responsesUrl(d), withFields(call.body, { model: d.providerModel, stream: true }));
      return responseEvents(provider, readEvents(response, provider, call), scrubberFor(d.apiKey, d));
    },
  };

  /** Where a deployment serves the Responses API; one without (Azure's elsewhere) is refused as a server without it refuses. */
  function responsesUrl(d: Deployment): string {
    const url = endpoint(d).responsesUrl;
    if (url === undefined) throw new ProviderError(`${provider} deployments do not serve the Responses API here`, 404, "not_found_error");
    return url;
  }
}

/** A Responses stream's named events as they came; an error event throws. */
async function* responseEvents(provider: string, events: AsyncIterable<{ event: string | undefined; data: string }>, scrubbed: (text: string) => string): AsyncGenerator<NamedEvent> {
  for await (const event of events) {
    const json = eventJson(event.data, provider);
    const type = String(json["type"] ?? event.event);
    if (type === "error") throw new ProviderError(`${provider} error: ${scrubbed(String(json["message"] ?? "stream failed"))}`, 502, "api_error");
    yield { name: event.event ?? type, data: event.data, json };
  }
}

/** An OpenAI chat stream's chunks, ending at [DONE]; an error chunk (its secrets taken out by `scrubbed`) or an early end throws. */
export async function* chatChunks(provider: string, events: AsyncIterable<{ data: string }>, scrubbed: (text: string) => string): AsyncGenerator<ChatChunk> {
  for await (const event of events) {
    if (event.data === "[DONE]") return;
    const chunk = eventJson(event.data, provider);
    const error = chunk["error"] as { message?: unknown } | undefined;
    if (error) throw new ProviderError(`${provider} error: ${scrubbed(String(error.message ?? "stream failed"))}`, 502, "api_error");
    yield { json: chunk, data: event.data };
  }
  throw incompleteStream(provider);
}

/**
 * OpenAI's routes below `base`, with the key as a bearer token. The Responses
 * API is asked natively first; a server without it answers 404 and is asked
 * through chat from then on.
 */
export function openAIEndpointAt(base: string, apiKey: string | undefined): OpenAIEndpoint {
  return {
    chatUrl: `${base}/chat/completions`,
    embeddingsUrl: `${base}/embeddings`,
    textCompletionsUrl: `${base}/completions`,
    imageGenerationsUrl: `${base}/images/generations`,
    imageEditsUrl: `${base}/images/edits`,
    speechUrl: `${base}/audio/speech`,
    transcriptionsUrl: `${base}/audio/transcriptions`,
    responsesUrl: `${base}/responses`,
    rerankUrl: `${base}/rerank`,
    moderationsUrl: `${base}/moderations`,
    accountUrl: (path, query) => (query === "" ? base + path : `${base}${path}?${query}`),
    modelsUrl: `${base}/models`,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  };
}

/** OpenAI and every server speaking its API (vLLM, Ollama, LM Studio, Groq, …) through api_base. */
export const openaiAdapter = openAICompatible(
  "openai",
  perDeployment((d) => openAIEndpointAt(d.apiBase ?? OPENAI_API_BASE, d.apiKey)),
);
