import type { ModelEntry } from "./config.js";

/** US dollars per token. */
export interface Price {
  input: number;
  output: number;
  /** Price of prompt tokens served from the provider's cache. */
  cachedInput: number;
  /** Price of prompt tokens written to the provider's cache; for Anthropic, its five-minute cache, which charges extra. */
  cacheWrite: number;
  /** Price of prompt tokens written to Anthropic's one-hour cache. */
  cacheWrite1h: number;
}

const M = 1e-6;

// List prices per million tokens of popular models, from the providers'
// public pricing pages. A deployment's model_info / litellm_params prices
// (PriceOverride) override these. Cache writes cost the input price unless a
// fourth column says otherwise (Anthropic's five-minute cache: 1.25 times the
// input price); a model with that column also has Anthropic's one-hour cache.
const PER_MILLION: Record<string, [input: number, output: number, cachedInput: number, cacheWrite?: number]> = {
  "gpt-4o": [2.5, 10, 1.25],
  "gpt-4o-mini": [0.15, 0.6, 0.075],
  "gpt-4.1": [2, 8, 0.5],
  "gpt-4.1-mini": [0.4, 1.6, 0.1],
  "gpt-4.1-nano": [0.1, 0.4, 0.025],
  "gpt-5": [1.25, 10, 0.125],
  "gpt-5-mini": [0.25, 2, 0.025],
  "gpt-5-nano": [0.05, 0.4, 0.005],
  o3: [2, 8, 0.5],
  "o4-mini": [1.1, 4.4, 0.275],
  "text-embedding-3-small": [0.02, 0, 0],
  "text-embedding-3-large": [0.13, 0, 0],
  "text-embedding-ada-002": [0.1, 0, 0],
  "claude-3-5-sonnet": [3, 15, 0.3, 3.75],
  "claude-3-5-haiku": [0.8, 4, 0.08, 1],
  "claude-3-7-sonnet": [3, 15, 0.3, 3.75],
  "claude-sonnet-4": [3, 15, 0.3, 3.75],
  "claude-sonnet-4-5": [3, 15, 0.3, 3.75],
  "claude-opus-4": [15, 75, 1.5, 18.75],
  "claude-opus-4-1": [15, 75, 1.5, 18.75],
  "claude-opus-4-5": [5, 25, 0.5, 6.25],
  "claude-opus-4-6": [5, 25, 0.5, 6.25],
  "claude-opus-4-7": [5, 25, 0.5, 6.25],
  "claude-opus-4-8": [5, 25, 0.5, 6.25],
  "claude-sonnet-4-6": [3, 15, 0.3, 3.75],
  "claude-haiku-4-5": [1, 5, 0.1, 1.25],
  "gemini-2.0-flash": [0.1, 0.4, 0.025],
  "gemini-2.5-flash": [0.3, 2.5, 0.075],
  "gemini-2.5-flash-lite": [0.1, 0.4, 0.025],
  "gemini-2.5-pro": [1.25, 10, 0.31],
  "gemini-3-pro": [2, 12, 0.2],
  "gemini-3-flash": [0.5, 3, 0.05],
  "text-embedding-004": [0, 0, 0],
  "gemini-embedding-001": [0.15, 0, 0],
};

// Anthropic prices a write to its one-hour cache at twice the input price, for every model.
const ONE_HOUR_WRITE_RATIO = 2;

const FREE: Price = { input: 0, output: 0, cachedInput: 0, cacheWrite: 0, cacheWrite1h: 0 };

function priceOfRow([input, output, cachedInput, cacheWrite]: (typeof PER_MILLION)[string]): Price {
  return {
    input: input * M,
    output: output * M,
    cachedInput: cachedInput * M,
    cacheWrite: (cacheWrite ?? input) * M,
    cacheWrite1h: (cacheWrite === undefined ? input : input * ONE_HOUR_WRITE_RATIO) * M,
  };
}

/**
 * The list price of a provider model, matching dated snapshots
 * ("claude-3-5-sonnet-20241022") to their family by the longest known prefix.
 */
export function listPrice(providerModel: string): Price {
  let best: string | undefined;
  for (const name of Object.keys(PER_MILLION)) {
    if (providerModel.startsWith(name) && (best === undefined || name.length > best.length)) best = name;
  }
  const row = best === undefined ? undefined : PER_MILLION[best];
  return row ? priceOfRow(row) : FREE;
}

/** A deployment's own prices, US dollars per token, with LiteLLM's names; model_info and litellm_params may both set them. */
export interface PriceOverride {
  input_cost_per_token?: number | undefined;
  output_cost_per_token?: number | undefined;
  cache_read_input_token_cost?: number | undefined;
  /** A write to Anthropic's five-minute cache. */
  cache_creation_input_token_cost?: number | undefined;
  /** A write to Anthropic's one-hour cache. */
  cache_creation_input_token_cost_above_1hr?: number | undefined;
  /** LiteLLM's model_info.base_model: the model a freely named deployment (Azure's) is priced as, e.g. "azure/gpt-4o". */
  base_model?: string | undefined;
}

type PriceField = Exclude<keyof PriceOverride, "base_model">;

/** The model whose list price applies: the first base_model given (without its provider prefix), else the deployment's own. */
function pricedModel(providerModel: string, overrides: (PriceOverride | undefined)[]): string {
  const base = overrides.find((o) => o?.base_model !== undefined)?.base_model;
  if (base === undefined) return providerModel;
  const slash = base.indexOf("/");
  return slash > 0 ? base.slice(slash + 1) : base;
}

/** A deployment's price: its overrides, else the list price of its model (or of its base_model). */
export function deploymentPrice(providerModel: string, ...overrides: (PriceOverride | undefined)[]): Price {
  const list = listPrice(pricedModel(providerModel, overrides));
  const pick = (field: PriceField, fallback: number) => {
    for (const o of overrides) if (o?.[field] !== undefined) return o[field];
    return fallback;
  };
  const input = pick("input_cost_per_token", list.input);
  // Cache prices not set themselves follow an overridden input price: a cache
  // discount never makes cached tokens dearer than it, and a cache-write
  // surcharge keeps its ratio to it.
  const ratio = (listed: number) => (list.input > 0 ? listed / list.input : 1);
  const cacheWrite = pick("cache_creation_input_token_cost", input * ratio(list.cacheWrite));
  return {
    input,
    output: pick("output_cost_per_token", list.output),
    cachedInput: pick("cache_read_input_token_cost", Math.min(list.cachedInput || input, input)),
    cacheWrite,
    // A longer-lived cache entry is never cheaper to write than a shorter one.
    cacheWrite1h: pick("cache_creation_input_token_cost_above_1hr", Math.max(input * ratio(list.cacheWrite1h), cacheWrite)),
  };
}

/**
 * The deployments whose calls are booked at no cost: no list price for their
 * model and no price of their own, so a start can say so (a local model is
 * free; a hosted one the table does not know needs model_info prices).
 * Fixed answers (mock_response) and wildcard entries, priced per requested
 * model, are left out.
 */
export function unpricedModels(modelList: readonly ModelEntry[]): string[] {
  return modelList
    .filter(({ litellm_params: p, model_info }) => {
      if (p.mock_response !== undefined || p.model.includes("*")) return false;
      const slash = p.model.indexOf("/");
      const price = deploymentPrice(slash > 0 ? p.model.slice(slash + 1) : p.model, model_info, p);
      return price.input === 0 && price.output === 0 && [model_info, p].every((o) => o?.input_cost_per_token === undefined && o?.output_cost_per_token === undefined);
    })
    .map((entry) => `${entry.model_name} (${entry.litellm_params.model})`);
}

/** A request's tokens, as its provider reported them (or as counted locally). */
export interface Usage {
  /** Every prompt token, the cached and cache-written ones included. */
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens read from the provider's cache. */
  cachedTokens: number;
  /** Prompt tokens written to the provider's cache (Anthropic bills them apart), at either lifetime. */
  cacheWriteTokens: number;
  /** The part of cacheWriteTokens written to Anthropic's one-hour cache. */
  cacheWrite1hTokens: number;
}

/** The cost of a request: each kind of prompt token at its own price. */
export function costOf(price: Price, usage: Usage): number {
  const uncached = usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens;
  const written5m = usage.cacheWriteTokens - usage.cacheWrite1hTokens;
  return (
    uncached * price.input +
    usage.cachedTokens * price.cachedInput +
    written5m * price.cacheWrite +
    usage.cacheWrite1hTokens * price.cacheWrite1h +
    usage.completionTokens * price.output
  );
}
