import { deploymentPrice, type GatewayConfig } from "@gateway/common";

/** The dearest a request to a model group can be, per token: worked out once per config. */
interface GroupBound {
  input: number;
  output: number;
  /** Output tokens assumed when the request sets no max_tokens. */
  outputCap: number;
}

// When neither the request nor model_info bounds the output.
const DEFAULT_OUTPUT_CAP = 4096;

/**
 * Upper bounds of what requests may cost, for budget reservations. A group's
 * bound covers every deployment in it and in its fallback groups, since any
 * of them may answer.
 */
export class ReservationPricing {
  private readonly groups = new Map<string, GroupBound>();
  private readonly dearest: GroupBound = { input: 0, output: 0, outputCap: DEFAULT_OUTPUT_CAP };

  constructor(config: GatewayConfig) {
    for (const entry of config.model_list) {
      const p = entry.litellm_params;
      const slash = p.model.indexOf("/");
      const price = deploymentPrice(slash > 0 ? p.model.slice(slash + 1) : p.model, entry.model_info, p);
      const cap = entry.model_info?.max_output_tokens ?? entry.model_info?.max_tokens ?? DEFAULT_OUTPUT_CAP;
      const bound = { input: price.input, output: price.output, outputCap: cap };
      this.groups.set(entry.model_name, widen(this.groups.get(entry.model_name), bound));
      widenInto(this.dearest, bound);
    }
    for (const rule of config.litellm_settings.fallbacks ?? []) {
      for (const [group, fallbacks] of Object.entries(rule)) {
        let bound = this.groups.get(group);
        for (const f of fallbacks) bound = widen(bound, this.groups.get(f) ?? this.dearest);
        if (bound) this.groups.set(group, bound);
      }
    }
  }

  /** Dollars: the most a request with this prompt bound and max_tokens can cost. */
  maxCost(group: string, promptTokens: number, maxTokens: number): number {
    const b = this.groups.get(group) ?? this.dearest;
    return promptTokens * b.input + (maxTokens || b.outputCap) * b.output;
  }
}

function widen(a: GroupBound | undefined, b: GroupBound): GroupBound {
  return a ? { input: Math.max(a.input, b.input), output: Math.max(a.output, b.output), outputCap: Math.max(a.outputCap, b.outputCap) } : { ...b };
}

function widenInto(target: GroupBound, b: GroupBound): void {
  Object.assign(target, widen(target, b));
}
