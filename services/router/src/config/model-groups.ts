import { providerBudgets, type Budget } from "./budget-settings.js";
import { ConfigError, WildcardName, type GatewayConfig, type ModelEntry } from "@gateway/common";
import { buildDeployment, concreteDeployment, type Deployment } from "./deployment.js";
import { routerSettings, type RouterSettings } from "./router-settings.js";

/** The deployments that answer one model name, with what picking among them needs, worked out once. */
export interface ModelGroup {
  name: string;
  deployments: readonly Deployment[];
  /** The deployments of the lowest order: what a first attempt picks from while none cools down. */
  firstChoice: readonly Deployment[];
  /** simple-shuffle's weights: LiteLLM's weight, else rpm, else tpm, else none (uniform). */
  weighting: "weight" | "rpm" | "tpm" | "uniform";
}

interface WildcardGroup {
  name: WildcardName;
  group: ModelGroup;
  /** Concrete groups by requested name, made on first use. */
  concrete: Map<string, ModelGroup>;
}

// Requested names a wildcard has answered, remembered per wildcard; a client
// inventing names cannot grow this without bound.
const MAX_CONCRETE_NAMES = 1000;

function weighting(deployments: readonly Deployment[]): ModelGroup["weighting"] {
  if (deployments.some((d) => d.weight !== undefined)) return "weight";
  if (deployments.some((d) => d.rpm !== undefined)) return "rpm";
  if (deployments.some((d) => d.tpm !== undefined)) return "tpm";
  return "uniform";
}

/** A group of these deployments (at least one), with what picking among them needs. */
export function modelGroup(name: string, deployments: readonly Deployment[]): ModelGroup {
  const lowest = Math.min(...deployments.map((d) => d.order));
  return { name, deployments, firstChoice: deployments.filter((d) => d.order === lowest), weighting: weighting(deployments) };
}

/**
 * config.yaml's model_list (and the models added at runtime), grouped by
 * model_name, with the router settings of the same load. Built once per
 * load and replaced whole on reload; requests keep the one they started with.
 */
export class ModelGroups {
  readonly loadedAt = Math.floor(Date.now() / 1000);

  private constructor(
    private readonly groups: ReadonlyMap<string, ModelGroup>,
    private readonly wildcards: readonly WildcardGroup[],
    readonly settings: RouterSettings,
    /** router_settings.provider_budget_config, by provider. */
    readonly providerBudgets: ReadonlyMap<string, Budget>,
    /** LiteLLM's model access groups (model_info.access_groups): each group's model_names. */
    readonly accessGroups: ReadonlyMap<string, readonly string[]>,
  ) {}

  /** `added` are the runtime models (POST /model/new), after the file's. */
  static fromConfig(config: GatewayConfig, supportedProviders: ReadonlySet<string>, added: readonly ModelEntry[] = []): ModelGroups {
    const byName = new Map<string, Deployment[]>();
    const ids = new Set<string>();
    const budgets = providerBudgets(config);
    const accessGroups = new Map<string, string[]>();
    const add = (entry: ModelEntry, where: string, source: Deployment["source"]) => {
      const deployment = buildDeployment(entry, config, supportedProviders, where, source, budgets);
      if (ids.has(deployment.id)) throw new ConfigError(`${where}: deployment id "${deployment.id}" is used twice`);
      ids.add(deployment.id);
      for (const group of entry.model_info?.access_groups ?? []) {
        const members = accessGroups.get(group) ?? [];
        if (!members.includes(entry.model_name)) members.push(entry.model_name);
        accessGroups.set(group, members);
      }
      const list = byName.get(entry.model_name) ?? [];
      list.push(deployment);
      byName.set(entry.model_name, list);
    };
    config.model_list.forEach((entry, i) => add(entry, `model_list[${i}]`, "config"));
    added.forEach((entry) => add(entry, `model ${entry.model_info?.id ?? entry.model_name}`, "db"));
    const groups = new Map<string, ModelGroup>();
    const wildcards: WildcardGroup[] = [];
    for (const [name, deployments] of byName) {
      const g = modelGroup(name, deployments);
      groups.set(name, g);
      if (WildcardName.is(name)) wildcards.push({ name: new WildcardName(name), group: g, concrete: new Map() });
    }
    wildcards.sort((a, b) => b.name.specificity - a.name.specificity);
    const settings = routerSettings(config);
    // Checked against runtime models too, so deleting the last deployment an alias points to is refused.
    for (const [alias, to] of settings.aliases) {
      if (!groups.has(to.group)) throw new ConfigError(`${to.from}.${alias}: no model group is named "${to.group}"`);
    }
    return new ModelGroups(groups, wildcards, settings, budgets, accessGroups);
  }

  /** The deployments of a model_name exactly as configured (wildcard patterns included). */
  get(name: string): readonly Deployment[] | undefined {
    return this.groups.get(name)?.deployments;
  }

  /** Every model_name in the model list. */
  names(): string[] {
    return [...this.groups.keys()];
  }

  /** Fallbacks to names no group, alias or wildcard answers ("a → b"): a request falling back there finds nothing. */
  unknownFallbacks(): string[] {
    const s = this.settings;
    const rules = [...s.fallbacks, ...s.contextWindowFallbacks, ...s.contentPolicyFallbacks, ["*", s.defaultFallbacks] as const];
    return rules.flatMap(([from, to]) => to.filter((name) => this.resolve(name) === undefined).map((name) => `${from} → ${name}`));
  }

  /** The names /v1/models lists: every group and every alias that is not hidden. */
  listed(): string[] {
    const names = this.names();
    for (const [alias, to] of this.settings.aliases) if (!to.hidden && !this.groups.has(alias)) names.push(alias);
    return names;
  }

  /** Every deployment, once. */
  all(): Deployment[] {
    return [...this.groups.values()].flatMap((g) => g.deployments);
  }

  /**
   * The group answering a requested name: an alias's group, the group of
   * that name, or the most specific wildcard matching it.
   */
  resolve(requested: string): ModelGroup | undefined {
    const name = this.settings.aliases.get(requested)?.group ?? requested;
    const exact = this.groups.get(name);
    if (exact) return exact;
    for (const w of this.wildcards) {
      const matched = w.name.match(name);
      if (matched === undefined) continue;
      let concrete = w.concrete.get(name);
      if (!concrete) {
        if (w.concrete.size >= MAX_CONCRETE_NAMES) w.concrete.clear();
        concrete = modelGroup(name, w.group.deployments.map((d) => concreteDeployment(d, name, matched)));
        w.concrete.set(name, concrete);
      }
      return concrete;
    }
    return undefined;
  }
}
