import { DEFAULT_OUTPUT_CAP, deploymentCostBound, groupAliases, listCostBound, maxCostWithin, sameBound, widenBound, WildcardName, type CostBound, type GatewayConfig } from "@gateway/common";

const NOTHING: CostBound = { input: 0, output: 0, longInput: 0, longOutput: 0, outputCap: 0 };

/**
 * Upper bounds of what requests may cost, for budget reservations. A group's
 * bound covers every deployment in it and in its fallback groups, since any
 * of them may answer. Worked out again whenever the model list changes
 * (load).
 */
export class ReservationPricing {
  private groups = new Map<string, CostBound>();
  private dearest: CostBound = { ...NOTHING, outputCap: DEFAULT_OUTPUT_CAP };
  private wildcards: WildcardName[] = [];

  constructor(config: GatewayConfig) {
    this.load(config);
  }

  /** Prices by this model list from now on: config.yaml's, or the router's with its runtime models. */
  load(config: GatewayConfig): void {
    this.groups = new Map();
    this.dearest = { ...NOTHING, outputCap: DEFAULT_OUTPUT_CAP };
    this.wildcards = config.model_list.filter((entry) => WildcardName.is(entry.model_name)).map((entry) => new WildcardName(entry.model_name));
    for (const entry of config.model_list) {
      const bound = deploymentCostBound(entry);
      this.groups.set(entry.model_name, widenBound(this.groups.get(entry.model_name), bound));
      this.dearest = widenBound(this.dearest, bound);
    }
    this.widenByFallbacks(config);
    for (const [alias, { group }] of groupAliases(config)) {
      const bound = this.groups.get(group);
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
        for (const t of targets) bound = widenBound(bound, this.groups.get(t) ?? this.dearest);
        if (bound && !sameBound(before, bound)) {
          this.groups.set(group, bound);
          changed = true;
        }
      }
    }
  }

  /**
   * A name no group or alias has. One a wildcard answers: the dearer of that
   * model's list price and any in the config. One nothing answers: nothing,
   * since the router refuses it before calling anyone (a model added at run
   * time is priced once the router's list with it arrives here, within
   * moments of its adding).
   */
  private unlisted(name: string): CostBound {
    return this.wildcards.some((w) => w.match(name) !== undefined) ? widenBound(this.dearest, listCostBound(name)) : NOTHING;
  }

  /** Dollars: the most a request with this prompt bound, max_tokens and number of answers can cost (maxCostWithin). */
  maxCost(group: string, promptTokens: number, maxTokens: number, answers = 1): number {
    return maxCostWithin(this.groups.get(group) ?? this.unlisted(group), promptTokens, maxTokens, answers);
  }
}
