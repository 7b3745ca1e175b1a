import type { ModelEntry } from "./config.js";
import { characterPrice, dearestImagePrice, listPrice } from "./price-list.js";
import { deploymentPrice, IMAGE_OUTPUT_TOKENS, LONG_CONTEXT_TOKENS, ownUnitPrice, pricedModel, type Price, type PriceRates } from "./pricing.js";

/** The dearest a request can be, per token: what a budget reserves for it before the call. */
export interface CostBound {
  /** Per prompt token: any of them may be written to a cache, at a surcharge. */
  input: number;
  output: number;
  /** The same for a prompt past LONG_CONTEXT_TOKENS, which some models price higher. */
  longInput: number;
  longOutput: number;
  /** Output tokens assumed when the request sets no max_tokens. */
  outputCap: number;
}

/** When neither the request nor the deployment bounds the output. */
export const DEFAULT_OUTPUT_CAP = 4096;

const FIELDS: (keyof CostBound)[] = ["input", "output", "longInput", "longOutput", "outputCap"];

/** One deployment's bound: its prices, and its own max_tokens (else model_info's, else DEFAULT_OUTPUT_CAP) for requests that set none. */
export function deploymentCostBound(entry: ModelEntry): CostBound {
  const p = entry.litellm_params;
  const slash = p.model.indexOf("/");
  const providerModel = slash > 0 ? p.model.slice(slash + 1) : p.model;
  const price = deploymentPrice(providerModel, entry.model_info, p);
  const cap = p.max_completion_tokens ?? p.max_tokens ?? entry.model_info?.max_output_tokens ?? entry.model_info?.max_tokens ?? DEFAULT_OUTPUT_CAP;
  return widenByUnits(priceBound(price, cap), providerModel, entry);
}

/** A model by its list price alone (a name no deployment has). */
export function listCostBound(name: string): CostBound {
  const slash = name.indexOf("/");
  return priceBound(listPrice(slash > 0 ? name.slice(slash + 1) : name), DEFAULT_OUTPUT_CAP);
}

/**
 * Dollars: the most a request with this prompt bound and max_tokens can
 * cost, asking for `answers` answers (0 is one) that each may write
 * max_tokens; long-context rates only for a prompt that may be long.
 */
export function maxCostWithin(b: CostBound, promptTokens: number, maxTokens: number, answers = 1): number {
  const long = promptTokens > LONG_CONTEXT_TOKENS;
  return promptTokens * (long ? b.longInput : b.input) + (maxTokens || b.outputCap) * Math.max(1, answers) * (long ? b.longOutput : b.output);
}

/**
 * How many answers a request's count fields ask for (OpenAI's n and
 * best_of, Gemini's candidateCount): the most any of them says, 0 when none
 * is a positive integer; at most a uint32.
 */
export function answerCount(...fields: unknown[]): number {
  let most = 0;
  for (const f of fields) if (typeof f === "number" && Number.isInteger(f) && f > most) most = f;
  return Math.min(most, 0xffffffff);
}

/** A bound covering both. */
export function widenBound(a: CostBound | undefined, b: CostBound): CostBound {
  if (!a) return { ...b };
  const wider = { ...a };
  for (const field of FIELDS) wider[field] = Math.max(a[field], b[field]);
  return wider;
}

export function sameBound(a: CostBound | undefined, b: CostBound): boolean {
  return a !== undefined && FIELDS.every((field) => a[field] === b[field]);
}

/** What one prompt token may cost at most: whichever of plain input, a cache read or a write to either cache is dearest. */
function dearestPromptToken(rates: PriceRates): number {
  return Math.max(rates.input, rates.cachedInput, rates.cacheWrite, rates.cacheWrite1h);
}

function priceBound(price: Price, outputCap: number): CostBound {
  const long = price.longContext ?? price;
  return { input: dearestPromptToken(price), output: price.output, longInput: dearestPromptToken(long), longOutput: long.output, outputCap };
}

/**
 * A bound that also covers a model priced by its own units: a character
 * read aloud costs at most what a prompt token may (the body's bytes bound
 * its characters as they bound tokens), and the dearest image what the
 * image tokens a request for it reserves (IMAGE_OUTPUT_TOKENS) may.
 */
function widenByUnits(bound: CostBound, providerModel: string, entry: ModelEntry): CostBound {
  const own = [entry.model_info, entry.litellm_params];
  const model = pricedModel(providerModel, own);
  const perCharacter = ownUnitPrice("input_cost_per_character", own) ?? characterPrice(model) ?? 0;
  const perImageToken = (ownUnitPrice("output_cost_per_image", own) ?? dearestImagePrice(model) ?? 0) / IMAGE_OUTPUT_TOKENS;
  return widenBound(bound, { input: perCharacter, longInput: perCharacter, output: perImageToken, longOutput: perImageToken, outputCap: 0 });
}
