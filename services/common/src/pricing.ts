import type { ModelEntry } from "./config.js";
import { listPrice, pricedByUnit } from "./price-list.js";

/** US dollars per token, of each kind of token. */
export interface PriceRates {
  input: number;
  output: number;
  /** Price of prompt tokens served from the provider's cache. */
  cachedInput: number;
  /** Price of prompt tokens written to the provider's cache; for Anthropic, its five-minute cache, which charges extra. */
  cacheWrite: number;
  /** Price of prompt tokens written to Anthropic's one-hour cache. */
  cacheWrite1h: number;
}

/** A prompt longer than this is priced at a model's long-context rates, where it has them (LiteLLM's "above_200k_tokens"). */
export const LONG_CONTEXT_TOKENS = 200_000;

/** A deployment's prices: its rates, and the dearer ones of a prompt past LONG_CONTEXT_TOKENS where the model has them. */
export interface Price extends PriceRates {
  longContext?: PriceRates;
  /** Dollars per search the provider runs itself (Anthropic's web search tool). */
  webSearch?: number;
  /** A call is booked at what its provider reports it cost (Usage.reportedCost), where the report came; see providerPrice. */
  reported?: boolean;
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
  /** The rates of a prompt past LONG_CONTEXT_TOKENS. */
  input_cost_per_token_above_200k_tokens?: number | undefined;
  output_cost_per_token_above_200k_tokens?: number | undefined;
  cache_read_input_token_cost_above_200k_tokens?: number | undefined;
  cache_creation_input_token_cost_above_200k_tokens?: number | undefined;
  /** Per image generated or edited (DALL·E and the like). */
  output_cost_per_image?: number | undefined;
  /** Per character read aloud (text to speech). */
  input_cost_per_character?: number | undefined;
  /** Per second of audio heard (speech to text). */
  input_cost_per_second?: number | undefined;
  /** LiteLLM's model_info.base_model: the model a freely named deployment (Azure's) is priced as, e.g. "azure/gpt-4o". */
  base_model?: string | undefined;
}

type PriceField = Exclude<keyof PriceOverride, "base_model">;

/**
 * The most image tokens a GPT Image model writes for one image (its largest
 * size at high quality, about 6,200). A request for n images reserves n
 * times this many output tokens against a key's budget; a model priced by
 * the image reserves its dearest image in their place.
 */
export const IMAGE_OUTPUT_TOKENS = 6_240;

/** The prices of models priced by their own units, which a deployment may set. */
const UNIT_PRICE_FIELDS = ["output_cost_per_image", "input_cost_per_character", "input_cost_per_second"] as const;
export type UnitPriceField = (typeof UNIT_PRICE_FIELDS)[number];

/** The deployment's own price of a unit, where it sets one. */
export function ownUnitPrice(field: UnitPriceField, overrides: (PriceOverride | undefined)[]): number | undefined {
  return overrides.find((o) => o?.[field] !== undefined)?.[field];
}

/** The model whose list price applies: the first base_model given (without its provider prefix), else the deployment's own. */
export function pricedModel(providerModel: string, overrides: (PriceOverride | undefined)[]): string {
  const base = overrides.find((o) => o?.base_model !== undefined)?.base_model;
  if (base === undefined) return providerModel;
  const slash = base.indexOf("/");
  return slash > 0 ? base.slice(slash + 1) : base;
}

/** What the first of the overrides that sets `field` sets it to. */
type Given = (field: PriceField) => number | undefined;

/** A deployment's price: its overrides, else the list price of its model (or of its base_model). */
export function deploymentPrice(providerModel: string, ...overrides: (PriceOverride | undefined)[]): Price {
  const list = listPrice(pricedModel(providerModel, overrides));
  const given: Given = (field) => overrides.find((o) => o?.[field] !== undefined)?.[field];
  const pick = (field: PriceField, fallback: number) => given(field) ?? fallback;
  const input = pick("input_cost_per_token", list.input);
  // Cache prices not set themselves follow an overridden input price: a cache
  // discount never makes cached tokens dearer than it, and a cache-write
  // surcharge keeps its ratio to it.
  const ratio = (listed: number) => (list.input > 0 ? listed / list.input : 1);
  const cacheWrite = pick("cache_creation_input_token_cost", input * ratio(list.cacheWrite));
  const rates: PriceRates = {
    input,
    output: pick("output_cost_per_token", list.output),
    cachedInput: pick("cache_read_input_token_cost", Math.min(list.cachedInput || input, input)),
    cacheWrite,
    // A longer-lived cache entry is never cheaper to write than a shorter one.
    cacheWrite1h: pick("cache_creation_input_token_cost_above_1hr", Math.max(input * ratio(list.cacheWrite1h), cacheWrite)),
  };
  const longContext = longContextRates(rates, list, given);
  return { ...rates, ...(longContext && { longContext }), ...(list.webSearch !== undefined && { webSearch: list.webSearch }) };
}

const LONG_CONTEXT_FIELDS: [PriceField, keyof PriceRates][] = [
  ["input_cost_per_token_above_200k_tokens", "input"],
  ["output_cost_per_token_above_200k_tokens", "output"],
  ["cache_read_input_token_cost_above_200k_tokens", "cachedInput"],
  ["cache_creation_input_token_cost_above_200k_tokens", "cacheWrite"],
];

/**
 * A deployment's long-context rates: the list's, kept in proportion to the
 * deployment's own rates, with the long-context prices it sets itself;
 * none when neither the list nor the deployment has any.
 */
function longContextRates(rates: PriceRates, list: Price, given: Given): PriceRates | undefined {
  const listed = list.longContext;
  if (!listed && LONG_CONTEXT_FIELDS.every(([field]) => given(field) === undefined)) return undefined;
  const tier = { ...rates };
  for (const key of Object.keys(rates) as (keyof PriceRates)[]) if (listed && list[key] > 0) tier[key] = (rates[key] * listed[key]) / list[key];
  for (const [field, key] of LONG_CONTEXT_FIELDS) tier[key] = given(field) ?? tier[key];
  // A longer-lived cache entry is never cheaper to write than a shorter one.
  tier.cacheWrite1h = Math.max(tier.cacheWrite1h, tier.cacheWrite);
  return tier;
}

// Providers whose answers say what each call cost, in US dollars: OpenRouter
// (usage.cost, searches and its fee included) and Perplexity
// (usage.cost.total_cost, its per-request search fee included).
const REPORTS_COST: ReadonlySet<string> = new Set(["openrouter", "perplexity"]);

/** Whether the deployment sets its own token prices. */
export function setsOwnPrice(overrides: (PriceOverride | undefined)[]): boolean {
  return overrides.some((o) => o?.input_cost_per_token !== undefined || o?.output_cost_per_token !== undefined);
}

/**
 * A deployment's price by its provider and model: as deploymentPrice, its
 * model looked up under its name in the price list (listedModel). A call to
 * a provider that reports what each call cost is booked at that, unless the
 * deployment sets prices of its own; the rates still price an answer that
 * came without a report.
 */
export function providerPrice(provider: string, providerModel: string, ...overrides: (PriceOverride | undefined)[]): Price {
  const price = deploymentPrice(listedModel(provider, providerModel), ...overrides);
  return REPORTS_COST.has(provider) && !setsOwnPrice(overrides) ? { ...price, reported: true } : price;
}

// Bedrock's ids for Anthropic's models ("us.anthropic.claude-sonnet-4-…-v1:0",
// "converse/anthropic.claude-…") around the names Anthropic prices them by.
const BEDROCK_ANTHROPIC = /^(?:(?:converse|invoke)\/)?(?:[a-z-]+\.)?anthropic\./;

/**
 * The name a provider's model has in the price list: its own, but Bedrock's
 * Claude models go by Anthropic's names (at Anthropic's list price), and
 * Bedrock's other models are not listed.
 */
export function listedModel(provider: string, providerModel: string): string {
  if (provider !== "bedrock") return providerModel;
  return BEDROCK_ANTHROPIC.test(providerModel) ? providerModel.replace(BEDROCK_ANTHROPIC, "") : "";
}

/**
 * The deployments whose calls are booked at no cost: no list price for their
 * model (by the token or by its own units, such as DALL·E's images), no
 * price of their own and no cost reported by their provider, so a
 * start can say so (a local model is free; a hosted one the table does not
 * know needs model_info prices). Left out: fixed answers (mock_response),
 * wildcard entries (priced per requested model) and moderation models
 * (model_info.mode "moderation"; OpenAI's are free).
 */
export function unpricedModels(modelList: readonly ModelEntry[]): string[] {
  return modelList
    .filter(({ litellm_params: p, model_info }) => {
      if (p.mock_response !== undefined || p.model.includes("*") || model_info?.mode === "moderation") return false;
      const slash = p.model.indexOf("/");
      const providerModel = slash > 0 ? p.model.slice(slash + 1) : p.model;
      const price = slash > 0 ? providerPrice(p.model.slice(0, slash), providerModel, model_info, p) : deploymentPrice(p.model, model_info, p);
      const own = [model_info, p];
      if (price.input > 0 || price.output > 0 || price.reported || setsOwnPrice(own)) return false;
      if (UNIT_PRICE_FIELDS.some((field) => ownUnitPrice(field, own) !== undefined)) return false;
      return !pricedByUnit(pricedModel(providerModel, own));
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
  /** The part of completionTokens the model spent thinking, where the provider tells it apart (Gemini's thoughtsTokenCount). */
  reasoningTokens?: number;
  /** Searches the provider ran itself (Anthropic's web search tool), billed apart from tokens. */
  webSearches?: number;
  /** What the provider says the call cost, US dollars (OpenRouter's and Perplexity's usage.cost). */
  reportedCost?: number;
  /**
   * What the call cost, US dollars, as its handler priced it by its own
   * units (images, characters read aloud, seconds or kinds of tokens
   * heard); its token counts are then not priced again.
   */
  unitCost?: number;
}

/** The cost of a request: what its provider reported, where the price says to book that; what its handler priced by the unit; else each kind of prompt token at its own price, all at the long-context rates when its prompt is long. */
export function costOf(price: Price, usage: Usage): number {
  if (price.reported && usage.reportedCost !== undefined) return usage.reportedCost;
  if (usage.unitCost !== undefined) return usage.unitCost;
  const searches = (usage.webSearches ?? 0) * (price.webSearch ?? 0);
  return searches + costAt(price.longContext && usage.promptTokens > LONG_CONTEXT_TOKENS ? price.longContext : price, usage);
}

function costAt(price: PriceRates, usage: Usage): number {
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
