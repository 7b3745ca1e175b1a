import {
  characterPrice,
  dearestImagePrice,
  deploymentPrice,
  IMAGE_OUTPUT_TOKENS,
  listPrice,
  LONG_CONTEXT_TOKENS,
  ownUnitPrice,
  pricedModel,
  type GatewayConfig,
  type ModelEntry,
  type Price,
  type PriceRates,
} from "@gateway/common";

/** The dearest a request to a model group can be, per token: worked out once per config. */
interface GroupBound {
  /** Per prompt token: any of them may be written to a cache, at a surcharge. */
  input: number;
  output: number;
  /** The same for a prompt past LONG_CONTEXT_TOKENS, which some models price higher. */
  longInput: number;
  longOutput: number;
  /** Output tokens assumed when the request sets no max_tokens. */
  outputCap: number;
}

const NOTHING: GroupBound = { input: 0, output: 0, longInput: 0, longOutput: 0, outputCap: 0 };

// When neither the request nor model_info bounds the output.
const DEFAULT_OUTPUT_CAP = 4096;

/**
 * Upper bounds of what requests may cost, for budget reservations. A group's
 * bound covers every deployment in it and in its fallback groups, since any
 * of them may answer. Worked out again whenever the model list changes
 * (load).
 */
export class ReservationPricing {
  private groups = new Map<string, GroupBound>();
  private dearest: GroupBound = { ...NOTHING, outputCap: DEFAULT_OUTPUT_CAP };

  constructor(config: GatewayConfig) {
    this.load(config);
  }

  /** Prices by this model list from now on: config.yaml's, or the router's with its runtime models. */
  load(config: GatewayConfig): void {
    this.groups = new Map();
    this.dearest = { ...NOTHING, outputCap: DEFAULT_OUTPUT_CAP };
    for (const entry of config.model_list) {
      const p = entry.litellm_params;
      const slash = p.model.indexOf("/");
      const providerModel = slash > 0 ? p.model.slice(slash + 1) : p.model;
      const price = deploymentPrice(providerModel, entry.model_info, p);
      // A request without max_tokens gets the deployment's own, when it sets one.
      const cap = p.max_completion_tokens ?? p.max_tokens ?? entry.model_info?.max_output_tokens ?? entry.model_info?.max_tokens ?? DEFAULT_OUTPUT_CAP;
      const bound = widenByUnits(boundOf(price, cap), providerModel, entry);
      this.groups.set(entry.model_name, widen(this.groups.get(entry.model_name), bound));
      widenInto(this.dearest, bound);
    }
    this.widenByFallbacks(config);
    for (const [alias, target] of Object.entries(config.router_settings.model_group_alias ?? {})) {
      const bound = this.groups.get(typeof target === "string" ? target : target.model);
      if (bound) this.groups.set(alias, bound);
    }
  }

  /**
   * A group's bound covers every group a request to it may fall back to, in
   * any of LiteLLM's fallback lists (and their fallbacks in turn).
   */
  private widenByFallbacks(config: GatewayConfig): void {
    const edges = new Map<string, Set<string>>();
    const add = (from: string, to: string[]) => {
      const set = edges.get(from) ?? new Set<string>();
      for (const t of to) set.add(t);
      edges.set(from, set);
    };
    for (const settings of [config.litellm_settings, config.router_settings]) {
      for (const list of [settings.fallbacks, settings.context_window_fallbacks, settings.content_policy_fallbacks]) {
        for (const rule of list ?? []) for (const [group, fallbacks] of Object.entries(rule)) add(group, fallbacks);
      }
      for (const group of this.groups.keys()) add(group, settings.default_fallbacks ?? []);
    }
    // Widen until nothing changes; each pass can only raise bounds, so it ends.
    for (let changed = true; changed; ) {
      changed = false;
      for (const [group, targets] of edges) {
        const before = this.groups.get(group);
        let bound = before;
        for (const t of targets) bound = widen(bound, this.groups.get(t) ?? this.dearest);
        if (bound && !same(before, bound)) {
          this.groups.set(group, bound);
          changed = true;
        }
      }
    }
  }

  /**
   * A name no group has (a wildcard deployment's model, a model added at
   * run time): the dearer of that model's list price and any in the config.
   */
  private unlisted(name: string): GroupBound {
    const slash = name.indexOf("/");
    const price = listPrice(slash > 0 ? name.slice(slash + 1) : name);
    return widen(this.dearest, boundOf(price, DEFAULT_OUTPUT_CAP));
  }

  /** Dollars: the most a request with this prompt bound and max_tokens can cost; long-context rates only for a prompt that may be long. */
  maxCost(group: string, promptTokens: number, maxTokens: number): number {
    const b = this.groups.get(group) ?? this.unlisted(group);
    const long = promptTokens > LONG_CONTEXT_TOKENS;
    return promptTokens * (long ? b.longInput : b.input) + (maxTokens || b.outputCap) * (long ? b.longOutput : b.output);
  }
}

/** What one prompt token may cost at most: whichever of plain input, a cache read or a write to either cache is dearest. */
function dearestPromptToken(rates: PriceRates): number {
  return Math.max(rates.input, rates.cachedInput, rates.cacheWrite, rates.cacheWrite1h);
}

/**
 * A bound that also covers a model priced by its own units: a character
 * read aloud costs at most what a prompt token may (the body's bytes bound
 * its characters as they bound tokens), and the dearest image what the
 * image tokens a request for it reserves (IMAGE_OUTPUT_TOKENS) may.
 */
function widenByUnits(bound: GroupBound, providerModel: string, entry: ModelEntry): GroupBound {
  const own = [entry.model_info, entry.litellm_params];
  const model = pricedModel(providerModel, own);
  const perCharacter = ownUnitPrice("input_cost_per_character", own) ?? characterPrice(model) ?? 0;
  const perImageToken = (ownUnitPrice("output_cost_per_image", own) ?? dearestImagePrice(model) ?? 0) / IMAGE_OUTPUT_TOKENS;
  return widen(bound, { input: perCharacter, longInput: perCharacter, output: perImageToken, longOutput: perImageToken, outputCap: 0 });
}

function boundOf(price: Price, outputCap: number): GroupBound {
  const long = price.longContext ?? price;
  return { input: dearestPromptToken(price), output: price.output, longInput: dearestPromptToken(long), longOutput: long.output, outputCap };
}

const FIELDS = Object.keys(NOTHING) as (keyof GroupBound)[];

function same(a: GroupBound | undefined, b: GroupBound): boolean {
  return a !== undefined && FIELDS.every((field) => a[field] === b[field]);
}

function widen(a: GroupBound | undefined, b: GroupBound): GroupBound {
  if (!a) return { ...b };
  const wider = { ...a };
  for (const field of FIELDS) wider[field] = Math.max(a[field], b[field]);
  return wider;
}

function widenInto(target: GroupBound, b: GroupBound): void {
  Object.assign(target, widen(target, b));
}
