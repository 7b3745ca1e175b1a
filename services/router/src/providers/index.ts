import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError } from "@gateway/common";
import { CHAT_DEFAULTS, EMBEDDING_DEFAULTS } from "../call-defaults.js";
import type { Deployment } from "../config/deployment.js";
import type { ModelGroups } from "../config/model-groups.js";
import { anthropicAdapter } from "./anthropic.js";
import { azureAdapter } from "./azure.js";
import { bedrockAdapter } from "./bedrock.js";
import { geminiAdapter } from "./gemini.js";
import { codestralAdapter, codestralFimAdapter, mistralAdapter } from "./mistral.js";
import { mockAdapter } from "./mock.js";
import { OPENAI_LIKE_ADAPTERS } from "./openai-like.js";
import { openaiAdapter } from "./openai.js";
import { vertexAdapter } from "./vertex.js";
import type { ProviderAdapter, ProviderCall } from "./provider.js";

// By the provider prefix of a deployment's model, LiteLLM's names.
const ADAPTERS: Record<string, ProviderAdapter> = {
  openai: openaiAdapter,
  azure: azureAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  bedrock: bedrockAdapter,
  vertex_ai: vertexAdapter,
  mistral: mistralAdapter,
  codestral: codestralAdapter,
  "text-completion-codestral": codestralFimAdapter,
  ...OPENAI_LIKE_ADAPTERS,
};

export const SUPPORTED_PROVIDERS: ReadonlySet<string> = new Set(Object.keys(ADAPTERS));

export function adapterFor(deployment: Deployment): ProviderAdapter {
  if (deployment.mockResponse !== undefined) return mockAdapter;
  const adapter = ADAPTERS[deployment.provider];
  if (!adapter) throw new Error(`no adapter for provider ${deployment.provider}`);
  return adapter.forModel?.(deployment.providerModel) ?? adapter;
}

/** The adapter methods of the call types some providers do not serve. */
type OptionalCall = "embeddings" | "imageGenerations" | "imageEdits" | "speech" | "transcription" | "rerank" | "moderations";

/**
 * The deployment's way to make a call of one of those types; a 400 that
 * names the deployment when its provider has none ("does not <doesNot>").
 */
export function servedBy<K extends OptionalCall>(d: Deployment, method: K, doesNot: string): (call: ProviderCall) => ReturnType<NonNullable<ProviderAdapter[K]>> {
  const adapter = adapterFor(d);
  const serve = adapter[method] as ((call: ProviderCall) => ReturnType<NonNullable<ProviderAdapter[K]>>) | undefined;
  if (!serve) {
    throw gatewayError(`model ${d.modelGroup} does not ${doesNot} (${d.provider} deployment ${d.id})`, Code.InvalidArgument, { type: "invalid_request_error", param: "model" });
  }
  return (call) => serve.call(adapter, call);
}

/** A call parameter the deployment sets that its provider does not take (and drop_params would drop from every call). */
function unsupportedDefault(d: Deployment, adapter: ProviderAdapter): string | undefined {
  if (d.callDefaults === undefined || d.dropParams) return undefined;
  for (const name in d.callDefaults) {
    const takes = CHAT_DEFAULTS.has(name) ? adapter.chatParams : EMBEDDING_DEFAULTS.has(name) ? adapter.embeddingParams : undefined;
    if (takes && !takes.has(name)) return `litellm_params.${name}: ${d.provider} does not take this parameter; remove it`;
  }
  return undefined;
}

/**
 * Refuses, at config load, deployments their provider cannot be called with
 * (an azure/ one without api_base, a call parameter the provider lacks).
 */
export function checkDeployments(groups: ModelGroups): void {
  for (const name of groups.names()) {
    for (const d of groups.get(name) ?? []) {
      const adapter = d.mockResponse === undefined ? ADAPTERS[d.provider] : undefined;
      const problem = adapter && (adapter.check?.(d) ?? unsupportedDefault(d, adapter.forModel?.(d.providerModel) ?? adapter));
      if (problem) throw new ConfigError(`model_list: ${name} (deployment ${d.id}): ${problem}`);
    }
  }
}
