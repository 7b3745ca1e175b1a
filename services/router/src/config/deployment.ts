import { createHash } from "node:crypto";
import { CALL_DEFAULT_SETTINGS, ConfigError, deploymentCostBound, providerPrice, timeoutMs, type DeploymentLabels, type GatewayConfig, type ModelEntry, type Price } from "@gateway/common";
import { isOpenAIReasoningModel } from "../translate/messages-request.js";
import { OPENAI_LIKE_PROVIDERS } from "../providers/openai-like.js";
import type { Json } from "../providers/provider.js";
import { awsSettings, type AwsSettings } from "./aws-settings.js";
import { deploymentBudgets, type Budget, type DeploymentBudgets } from "./budget-settings.js";
import { providerSettings } from "./provider-env.js";
import { vertexSettings, type VertexSettings } from "./vertex-settings.js";

/** Where a deployment was defined: config.yaml, or POST /model/new (stored in Postgres). */
export type DeploymentSource = "config" | "db";

/** One concrete backend for a model group: a provider, a model, and how to reach it. */
export interface Deployment {
  /** model_info.id, or a stable hash of the entry's non-secret params. */
  id: string;
  modelGroup: string;
  provider: string;
  /** The model name the provider knows, e.g. "gpt-4o-mini"; contains "*" on a wildcard deployment. */
  providerModel: string;
  apiBase: string | undefined;
  /** Never logged, never in an event or error. */
  apiKey: string | undefined;
  apiVersion: string | undefined;
  dropParams: boolean;
  /** An OpenAI reasoning model (o-series, gpt-5): it takes max_completion_tokens, never max_tokens. */
  maxCompletionTokensOnly: boolean;
  /** litellm_settings.modify_params: fit an OpenAI history to what Anthropic's format takes (fit-conversation.ts). */
  modifyParams: boolean;
  timeoutMs: number;
  streamTimeoutMs: number;
  price: Price;
  /** Call parameters set in litellm_params (temperature, max_tokens, …): a request gets those it does not set itself. */
  callDefaults: Json | undefined;
  /** Headers every call to the deployment carries (extra_headers, organization), names in lower case. */
  extraHeaders: Readonly<Record<string, string>> | undefined;
  /** Fields set into every body sent to the provider (extra_body). */
  extraBody: Json | undefined;
  /** A bedrock/ deployment's region, endpoint and credentials. */
  aws: AwsSettings | undefined;
  /** A vertex_ai/ deployment's address and credentials. */
  vertex: VertexSettings | undefined;
  /** LiteLLM's mock_response: answer with this text without calling anyone. */
  mockResponse: string | undefined;
  /** Requests and tokens per minute this deployment takes (weights for simple-shuffle, limits for usage-based routing). */
  rpm: number | undefined;
  tpm: number | undefined;
  /** Calls it takes at once on this router replica (litellm_params.max_parallel_requests, else general_settings'); undefined: no bound. */
  maxParallelRequests: number | undefined;
  weight: number | undefined;
  /** Lower orders are tried first; deployments without one come after every ordered one. */
  order: number;
  /** model_info.mode: "chat", "embedding", …; what /health probes with. */
  mode: string | undefined;
  /** litellm_params.tags: booked with every request this deployment answers. */
  tags: readonly string[] | undefined;
  /** Its provider's budget and its own, which calls reserve from (budgets.ts); undefined when it has none. */
  budgets: DeploymentBudgets | undefined;
  source: DeploymentSource;
  /** The entry as written, for building concrete deployments of a wildcard and for /model/info. */
  entry: ModelEntry;
}

const DEFAULT_TIMEOUT_S = 600;

// A model with no "provider/" prefix is OpenAI's, as in LiteLLM, unless it
// is of a family LiteLLM knows as another provider's: a Claude model with an
// Anthropic key must not go to OpenAI.
const DEFAULT_PROVIDER = "openai";
const BARE_MODEL_FAMILIES: readonly [RegExp, string][] = [
  [/^claude-/, "anthropic"],
  [/^command(-|$)/, "cohere"],
  [/^(mistral|open-mistral|open-mixtral|magistral|ministral)-/, "mistral"],
  [/^deepseek-/, "deepseek"],
  [/^grok-/, "xai"],
];
// Gemini models without a prefix: LiteLLM sends them to Vertex AI, whose
// credentials differ from Google AI Studio's; the entry must say which.
const BARE_GEMINI = /^gemini-/;

function stableId(entry: ModelEntry): string {
  // Without its secrets, so an id outlives a key's rotation.
  const { api_key: _key, aws_secret_access_key: _secret, aws_session_token: _token, vertex_credentials: _credentials, ...params } = entry.litellm_params;
  return createHash("sha256").update(JSON.stringify([entry.model_name, params])).digest("hex").slice(0, 16);
}

/** The deployment as LiteLLM's metrics label it. */
export function deploymentLabels(d: Deployment): DeploymentLabels {
  return { providerModel: d.providerModel, id: d.id, apiBase: d.apiBase ?? "", provider: d.provider };
}

export function splitModel(model: string): { provider: string; providerModel: string } {
  const slash = model.indexOf("/");
  if (slash > 0) return { provider: model.slice(0, slash), providerModel: model.slice(slash + 1) };
  return { provider: BARE_MODEL_FAMILIES.find(([family]) => family.test(model))?.[1] ?? DEFAULT_PROVIDER, providerModel: model };
}

export function buildDeployment(
  entry: ModelEntry,
  config: GatewayConfig,
  supported: ReadonlySet<string>,
  where: string,
  source: DeploymentSource = "config",
  providerBudgets: ReadonlyMap<string, Budget> = new Map(),
): Deployment {
  const p = entry.litellm_params;
  const { provider, providerModel: named } = splitModel(p.model);
  if (named === "") throw new ConfigError(`${where}.litellm_params.model: "${p.model}" names no model after its provider`);
  if (BARE_GEMINI.test(p.model)) {
    throw new ConfigError(`${where}.litellm_params.model: "${p.model}" names no provider: write gemini/${p.model} (Google AI Studio, GEMINI_API_KEY) or vertex_ai/${p.model} (Vertex AI)`);
  }
  const providerModel = OPENAI_LIKE_PROVIDERS[provider]?.modelName?.(named) ?? named;
  if (!supported.has(provider)) {
    throw new ConfigError(
      `${where}.litellm_params.model: provider "${provider}" is not supported (supported: ${[...supported].join(", ")}); ` +
        `for any other server that speaks OpenAI's API write openai/<its model name> with its api_base`,
    );
  }
  const timeoutS = p.timeout ?? config.router_settings.timeout ?? config.litellm_settings.request_timeout ?? DEFAULT_TIMEOUT_S;
  const settings = providerSettings(provider, p);
  const id = entry.model_info?.id ?? stableId(entry);
  return {
    id,
    modelGroup: entry.model_name,
    provider,
    providerModel,
    apiBase: settings.apiBase?.replace(/\/+$/, ""),
    apiKey: settings.apiKey,
    apiVersion: settings.apiVersion,
    dropParams: p.drop_params ?? config.litellm_settings.drop_params ?? false,
    maxCompletionTokensOnly: isOpenAIReasoningModel(provider, providerModel),
    modifyParams: config.litellm_settings.modify_params ?? false,
    timeoutMs: timeoutMs(timeoutS),
    streamTimeoutMs: timeoutMs(p.stream_timeout ?? config.router_settings.stream_timeout ?? timeoutS),
    price: providerPrice(provider, providerModel, entry.model_info, entry.litellm_params),
    callDefaults: callDefaultsOf(p),
    extraHeaders: extraHeadersOf(p, settings.organization),
    extraBody: p.extra_body as Json | undefined,
    aws: provider === "bedrock" ? awsSettings(p, providerModel, settings.apiKey) : undefined,
    vertex: provider === "vertex_ai" ? vertexSettings(p) : undefined,
    mockResponse: p.mock_response,
    rpm: p.rpm,
    tpm: p.tpm,
    maxParallelRequests: p.max_parallel_requests ?? config.general_settings.max_parallel_requests,
    weight: p.weight,
    order: p.order ?? Number.POSITIVE_INFINITY,
    mode: entry.model_info?.mode,
    tags: p.tags,
    budgets: deploymentBudgets(entry, id, providerBudgets.get(provider), where),
    source,
    entry,
  };
}


function callDefaultsOf(p: ModelEntry["litellm_params"]): Json | undefined {
  const set = CALL_DEFAULT_SETTINGS.filter((name) => p[name] !== undefined);
  return set.length > 0 ? Object.fromEntries(set.map((name) => [name, p[name]])) : undefined;
}

function extraHeadersOf(p: ModelEntry["litellm_params"], organization: string | undefined): Record<string, string> | undefined {
  const headers: Record<string, string> = {};
  if (organization !== undefined) headers["openai-organization"] = organization;
  for (const [name, value] of Object.entries(p.extra_headers ?? {})) headers[name.toLowerCase()] = value;
  return Object.keys(headers).length > 0 ? headers : undefined;
}

/**
 * A wildcard deployment made concrete for one requested name: "openai/*"
 * asked as "openai/gpt-4o" calls the provider's "gpt-4o", priced as that model.
 */
export function concreteDeployment(d: Deployment, requested: string, matched: string): Deployment {
  const providerModel = d.providerModel.replaceAll("*", matched);
  const price = providerPrice(d.provider, providerModel, d.entry.model_info, d.entry.litellm_params);
  // Budgets reserve what the concrete model may cost.
  const budgets = d.budgets && { budgets: d.budgets.budgets, bound: deploymentCostBound(withModel(d.entry, `${d.provider}/${providerModel}`)) };
  return { ...d, modelGroup: requested, providerModel, price, budgets };
}

function withModel(entry: ModelEntry, model: string): ModelEntry {
  return { ...entry, litellm_params: { ...entry.litellm_params, model } };
}
