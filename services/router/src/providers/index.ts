import { ConfigError } from "@gateway/common";
import type { Deployment } from "../config/deployment.js";
import type { ModelGroups } from "../config/model-groups.js";
import { anthropicAdapter } from "./anthropic.js";
import { azureAdapter } from "./azure.js";
import { geminiAdapter } from "./gemini.js";
import { mockAdapter } from "./mock.js";
import { openaiAdapter } from "./openai.js";
import type { ProviderAdapter } from "./provider.js";

// By the provider prefix of a deployment's model, LiteLLM's names.
const ADAPTERS: Record<string, ProviderAdapter> = {
  openai: openaiAdapter,
  azure: azureAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
};

export const SUPPORTED_PROVIDERS: ReadonlySet<string> = new Set(Object.keys(ADAPTERS));

export function adapterFor(deployment: Deployment): ProviderAdapter {
  if (deployment.mockResponse !== undefined) return mockAdapter;
  const adapter = ADAPTERS[deployment.provider];
  if (!adapter) throw new Error(`no adapter for provider ${deployment.provider}`);
  return adapter;
}

/** Refuses, at config load, deployments their provider cannot be called with (an azure/ one without api_base). */
export function checkDeployments(groups: ModelGroups): void {
  for (const name of groups.names()) {
    for (const d of groups.get(name) ?? []) {
      const problem = d.mockResponse === undefined ? ADAPTERS[d.provider]?.check?.(d) : undefined;
      if (problem) throw new ConfigError(`model_list: ${name} (deployment ${d.id}): ${problem}`);
    }
  }
}
