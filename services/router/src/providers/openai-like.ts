import type { ProviderVariables } from "../config/provider-env.js";
import { perDeployment } from "./endpoint.js";
import { openAICompatible, openAIEndpointAt } from "./openai.js";
import type { ProviderAdapter } from "./provider.js";

interface OpenAILikeProvider {
  /** Where LiteLLM sends a deployment without api_base; undefined: there is no default (a local server). */
  base: string | undefined;
  /** The path of the server's OpenAI-compatible API below its base, when the base is the server itself (Ollama's /v1). */
  openAIPath?: string;
  /** The name the service knows a model by, from the one config.yaml gives (Fireworks' accounts/fireworks/models/<name>). */
  modelName?: (model: string) => string;
  /** false: the service refuses stream_options, and streams are counted locally. */
  streamUsage?: boolean;
  variables: ProviderVariables;
}

// Cohere's Compatibility API: chat completions and embeddings (reranking is
// Cohere's own API, not mapped here); it refuses stream_options. LiteLLM
// knows chat models under cohere_chat/ too.
const COHERE: OpenAILikeProvider = {
  base: "https://api.cohere.ai/compatibility/v1",
  streamUsage: false,
  variables: { hosted: true, apiBase: ["COHERE_API_BASE"], apiKey: ["COHERE_API_KEY", "CO_API_KEY"] },
};

// LiteLLM calls Ollama's own API (/api/generate for ollama/, /api/chat for
// ollama_chat/); the same server answers OpenAI's under /v1, which is what is
// called here for both.
const OLLAMA: OpenAILikeProvider = {
  base: "http://localhost:11434",
  openAIPath: "/v1",
  variables: { hosted: false, apiBase: ["OLLAMA_API_BASE"], apiKey: ["OLLAMA_API_KEY"] },
};

/**
 * Providers LiteLLM knows by prefix that speak OpenAI's API: each is the
 * openai/ adapter at its own base URL, with its own key variable.
 */
export const OPENAI_LIKE_PROVIDERS: Readonly<Record<string, OpenAILikeProvider>> = {
  groq: { base: "https://api.groq.com/openai/v1", variables: { hosted: true, apiBase: ["GROQ_API_BASE"], apiKey: ["GROQ_API_KEY"] } },
  deepseek: { base: "https://api.deepseek.com/beta", variables: { hosted: true, apiBase: ["DEEPSEEK_API_BASE"], apiKey: ["DEEPSEEK_API_KEY"] } },
  cerebras: { base: "https://api.cerebras.ai/v1", variables: { hosted: true, apiBase: ["CEREBRAS_API_BASE"], apiKey: ["CEREBRAS_API_KEY"] } },
  together_ai: {
    base: "https://api.together.xyz/v1",
    variables: { hosted: true, apiBase: ["TOGETHER_AI_API_BASE"], apiKey: ["TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"] },
  },
  nvidia_nim: { base: "https://integrate.api.nvidia.com/v1", variables: { hosted: true, apiBase: ["NVIDIA_NIM_API_BASE"], apiKey: ["NVIDIA_NIM_API_KEY"] } },
  sambanova: { base: "https://api.sambanova.ai/v1", variables: { hosted: true, apiBase: ["SAMBANOVA_API_BASE"], apiKey: ["SAMBANOVA_API_KEY"] } },
  xai: { base: "https://api.x.ai/v1", variables: { hosted: true, apiBase: ["XAI_API_BASE"], apiKey: ["XAI_API_KEY"] } },
  deepinfra: { base: "https://api.deepinfra.com/v1/openai", variables: { hosted: true, apiBase: ["DEEPINFRA_API_BASE"], apiKey: ["DEEPINFRA_API_KEY"] } },
  openrouter: { base: "https://openrouter.ai/api/v1", variables: { hosted: true, apiBase: ["OPENROUTER_API_BASE"], apiKey: ["OPENROUTER_API_KEY", "OR_API_KEY"] } },
  // Sonar: chat completions at the root, web search results in each answer.
  perplexity: { base: "https://api.perplexity.ai", variables: { hosted: true, apiBase: ["PERPLEXITY_API_BASE"], apiKey: ["PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"] } },
  github: { base: "https://models.inference.ai.azure.com", variables: { hosted: true, apiBase: ["GITHUB_API_BASE"], apiKey: ["GITHUB_API_KEY"] } },
  fireworks_ai: {
    base: "https://api.fireworks.ai/inference/v1",
    // A model of Fireworks' own may be named without its account, as LiteLLM allows.
    modelName: (model) => (model.startsWith("accounts/") ? model : `accounts/fireworks/models/${model}`),
    variables: { hosted: true, apiBase: ["FIREWORKS_API_BASE"], apiKey: ["FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"] },
  },
  // Embeddings and reranking (Jina has no chat).
  jina_ai: { base: "https://api.jina.ai/v1", variables: { hosted: true, apiBase: ["JINA_AI_API_BASE"], apiKey: ["JINA_AI_API_KEY"] } },
  nscale: { base: "https://inference.api.nscale.com/v1", variables: { hosted: true, apiBase: ["NSCALE_API_BASE"], apiKey: ["NSCALE_API_KEY"] } },
  // OpenAI itself, as LiteLLM names it for its text completion models (gpt-3.5-turbo-instruct).
  "text-completion-openai": { base: "https://api.openai.com/v1", variables: { hosted: true, apiBase: ["OPENAI_BASE_URL", "OPENAI_API_BASE"], apiKey: ["OPENAI_API_KEY"] } },
  // Servers of one's own: the base (with its /v1) is the deployment's to give.
  hosted_vllm: { base: undefined, variables: { hosted: false, apiBase: ["HOSTED_VLLM_API_BASE"], apiKey: ["HOSTED_VLLM_API_KEY"] } },
  lm_studio: { base: undefined, variables: { hosted: false, apiBase: ["LM_STUDIO_API_BASE"], apiKey: ["LM_STUDIO_API_KEY"] } },
  llamafile: { base: "http://127.0.0.1:8080/v1", variables: { hosted: false, apiBase: ["LLAMAFILE_API_BASE"], apiKey: ["LLAMAFILE_API_KEY"] } },
  ollama: OLLAMA,
  ollama_chat: OLLAMA,
  cohere: COHERE,
  cohere_chat: COHERE,
};

function adapterOf(name: string, provider: OpenAILikeProvider): ProviderAdapter {
  const endpoint = perDeployment((d) => {
    const server = d.apiBase ?? provider.base ?? "";
    return openAIEndpointAt(provider.openAIPath === undefined ? server : server.replace(/\/v1$/, "") + provider.openAIPath, d.apiKey);
  });
  const adapter: ProviderAdapter = openAICompatible(name, endpoint, { streamUsage: provider.streamUsage ?? true });
  if (provider.base !== undefined) return adapter;
  const variable = provider.variables.apiBase[0];
  return { ...adapter, check: (d) => (d.apiBase === undefined ? `${name} deployments need api_base (the server's address) or ${variable}` : undefined) };
}

export const OPENAI_LIKE_ADAPTERS: Readonly<Record<string, ProviderAdapter>> = Object.fromEntries(
  Object.entries(OPENAI_LIKE_PROVIDERS).map(([name, provider]) => [name, adapterOf(name, provider)]),
);
