import type { Deployment } from "../config/deployment.js";
import { mockAdapter } from "./mock.js";
import { openaiAdapter } from "./openai.js";
import type { ProviderAdapter } from "./provider.js";

const ADAPTERS: Record<string, ProviderAdapter> = {
  openai: openaiAdapter,
};

export const SUPPORTED_PROVIDERS: ReadonlySet<string> = new Set(Object.keys(ADAPTERS));

export function adapterFor(deployment: Deployment): ProviderAdapter {
  if (deployment.mockResponse !== undefined) return mockAdapter;
  const adapter = ADAPTERS[deployment.provider];
  if (!adapter) throw new Error(`no adapter for provider ${deployment.provider}`);
  return adapter;
}
