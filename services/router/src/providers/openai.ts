import type { Deployment } from "../config/deployment.js";
import { readSse } from "../sse-reader.js";
import { postJson, readJson, scrub, transportError } from "./http.js";
import { ProviderError, type ChatResult, type ProviderAdapter, type ProviderCall, type Usage } from "./provider.js";

const OPENAI_API_BASE = "https://api.openai.com/v1";

function headers(d: Deployment): Record<string, string> {
  return d.apiKey ? { authorization: `Bearer ${d.apiKey}` } : {};
}

/** OpenAI's usage block, as OpenAI and compatible servers send it. */
export function usageFrom(value: unknown): Usage | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const u = value as { prompt_tokens?: unknown; completion_tokens?: unknown; prompt_tokens_details?: { cached_tokens?: unknown } };
  if (typeof u.prompt_tokens !== "number") return undefined;
  const cached = u.prompt_tokens_details?.cached_tokens;
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: typeof u.completion_tokens === "number" ? u.completion_tokens : 0,
    cachedTokens: typeof cached === "number" ? cached : 0,
  };
}

/** OpenAI and every server speaking its API (vLLM, Ollama, LM Studio, Groq, …) through api_base. */
export const openaiAdapter: ProviderAdapter = {
  async chat(call: ProviderCall): Promise<ChatResult> {
    const d = call.deployment;
    const response = await postJson("openai", {
      url: `${d.apiBase ?? OPENAI_API_BASE}/chat/completions`,
      headers: headers(d),
      body: { ...call.body, model: d.providerModel, stream: false },
      signal: call.signal,
      secret: d.apiKey,
    });
    const body = await readJson(response, "openai", call.signal);
    if (body === null || typeof body !== "object") throw new ProviderError("openai sent an empty response", 502, "api_error");
    return { response: body as Record<string, unknown>, usage: usageFrom((body as { usage?: unknown }).usage) };
  },

  async chatStream(call: ProviderCall) {
    const d = call.deployment;
    const options = typeof call.body["stream_options"] === "object" ? call.body["stream_options"] : {};
    const response = await postJson("openai", {
      url: `${d.apiBase ?? OPENAI_API_BASE}/chat/completions`,
      headers: headers(d),
      body: { ...call.body, model: d.providerModel, stream: true, stream_options: { ...options, include_usage: true } },
      signal: call.signal,
      secret: d.apiKey,
    });
    return chunks(response.body, call.signal, d.apiKey);
  },
};

async function* chunks(body: AsyncIterable<Uint8Array>, signal: AbortSignal, secret: string | undefined): AsyncGenerator<Record<string, unknown>> {
  try {
    for await (const event of readSse(body)) {
      if (event.data === "[DONE]") return;
      let chunk: unknown;
      try {
        chunk = JSON.parse(event.data);
      } catch {
        throw new ProviderError("openai sent a stream event that is not JSON", 502, "api_error");
      }
      const error = (chunk as { error?: { message?: unknown } }).error;
      if (error) throw new ProviderError(`openai error: ${scrub(String(error.message ?? "stream failed"), secret)}`, 502, "api_error");
      yield chunk as Record<string, unknown>;
    }
  } catch (err) {
    throw err instanceof ProviderError ? err : transportError(err, "openai", signal);
  }
  // The body ended without [DONE]: the stream broke.
  throw new ProviderError("openai stream ended before it was complete", 502, "api_error");
}
