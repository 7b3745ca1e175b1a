import { createHash } from "node:crypto";
import { ConfigError, deploymentPrice, type GatewayConfig, type ModelEntry, type Price } from "@gateway/common";

/** One concrete backend for a model group: a provider, a model, and how to reach it. */
export interface Deployment {
  /** model_info.id, or a stable hash of the entry's non-secret params. */
  id: string;
  modelGroup: string;
  provider: string;
  /** The model name the provider knows, e.g. "gpt-4o-mini". */
  providerModel: string;
  apiBase: string | undefined;
  /** Never logged, never in an event or error. */
  apiKey: string | undefined;
  apiVersion: string | undefined;
  dropParams: boolean;
  timeoutMs: number;
  streamTimeoutMs: number;
  price: Price;
  /** LiteLLM's mock_response: answer with this text without calling anyone. */
  mockResponse: string | undefined;
}

const DEFAULT_TIMEOUT_S = 600;

// Entries whose model has no "provider/" prefix are OpenAI models, as in LiteLLM.
const DEFAULT_PROVIDER = "openai";

function stableId(entry: ModelEntry): string {
  const { api_key: _secret, ...params } = entry.litellm_params;
  return createHash("sha256").update(JSON.stringify([entry.model_name, params])).digest("hex").slice(0, 16);
}

export function buildDeployment(entry: ModelEntry, config: GatewayConfig, supported: ReadonlySet<string>, where: string): Deployment {
  const p = entry.litellm_params;
  const slash = p.model.indexOf("/");
  const provider = slash > 0 ? p.model.slice(0, slash) : DEFAULT_PROVIDER;
  const providerModel = slash > 0 ? p.model.slice(slash + 1) : p.model;
  if (!supported.has(provider)) {
    throw new ConfigError(
      `${where}.litellm_params.model: provider "${provider}" is not supported (supported: ${[...supported].join(", ")})`,
    );
  }
  const timeoutS = p.timeout ?? config.litellm_settings.request_timeout ?? DEFAULT_TIMEOUT_S;
  return {
    id: entry.model_info?.id ?? stableId(entry),
    modelGroup: entry.model_name,
    provider,
    providerModel,
    apiBase: p.api_base?.replace(/\/+$/, ""),
    apiKey: p.api_key,
    apiVersion: p.api_version,
    dropParams: p.drop_params ?? config.litellm_settings.drop_params ?? false,
    timeoutMs: timeoutS * 1000,
    streamTimeoutMs: (p.stream_timeout ?? timeoutS) * 1000,
    price: deploymentPrice(providerModel, entry.model_info, p),
    mockResponse: p.mock_response,
  };
}
