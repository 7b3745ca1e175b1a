/** US dollars per token. */
export interface Price {
  input: number;
  output: number;
  /** Price of prompt tokens served from the provider's cache. */
  cachedInput: number;
  /** Price of prompt tokens written to the provider's cache (Anthropic charges extra). */
  cacheWrite: number;
}

const M = 1e-6;

// List prices per million tokens of popular models, from the providers'
// public pricing pages. A deployment's model_info / litellm_params
// input_cost_per_token and output_cost_per_token override these. Cache
// writes cost the input price unless a fourth column says otherwise
// (Anthropic's five-minute cache: 1.25 times the input price).
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
  "claude-haiku-4-5": [1, 5, 0.1, 1.25],
  "gemini-2.0-flash": [0.1, 0.4, 0.025],
  "gemini-2.5-flash": [0.3, 2.5, 0.075],
  "gemini-2.5-flash-lite": [0.1, 0.4, 0.025],
  "gemini-2.5-pro": [1.25, 10, 0.31],
  "text-embedding-004": [0, 0, 0],
  "gemini-embedding-001": [0.15, 0, 0],
};

const FREE: Price = { input: 0, output: 0, cachedInput: 0, cacheWrite: 0 };

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
  return row ? { input: row[0] * M, output: row[1] * M, cachedInput: row[2] * M, cacheWrite: (row[3] ?? row[0]) * M } : FREE;
}

export interface PriceOverride {
  input_cost_per_token?: number | undefined;
  output_cost_per_token?: number | undefined;
  /** LiteLLM's model_info.base_model: the model a freely named deployment (Azure's) is priced as, e.g. "azure/gpt-4o". */
  base_model?: string | undefined;
}

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
  const pick = (field: "input_cost_per_token" | "output_cost_per_token", fallback: number) => {
    for (const o of overrides) if (o?.[field] !== undefined) return o[field];
    return fallback;
  };
  const input = pick("input_cost_per_token", list.input);
  const output = pick("output_cost_per_token", list.output);
  // A cache discount never makes cached tokens dearer than an overridden input
  // price; a cache-write surcharge keeps its ratio to the input price.
  const writeRatio = list.input > 0 ? list.cacheWrite / list.input : 1;
  return { input, output, cachedInput: Math.min(list.cachedInput || input, input), cacheWrite: input * writeRatio };
}

/** The cost of a request; promptTokens include the cached and cache-written ones. */
export function costOf(price: Price, promptTokens: number, completionTokens: number, cachedTokens = 0, cacheWriteTokens = 0): number {
  const uncached = promptTokens - cachedTokens - cacheWriteTokens;
  return uncached * price.input + cachedTokens * price.cachedInput + cacheWriteTokens * price.cacheWrite + completionTokens * price.output;
}
