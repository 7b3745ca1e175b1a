import { EVERY_MODEL, groupAliases, type GatewayConfig } from "@gateway/common";

/** A key's or team's models as the hot path reads them: null and [] for every model. */
export function modelsOf(models: readonly string[]): { models: ReadonlySet<string> | null; modelList: readonly string[] } {
  if (models.length === 0 || models.some((m) => EVERY_MODEL.has(m))) return { models: null, modelList: [] };
  return { models: new Set(models), modelList: models };
}

/**
 * LiteLLM's model access groups: a name in a key's or team's `models` that
 * a model_list entry's model_info.access_groups lists stands for every
 * model group listing it; and litellm_settings.model_alias_map, the names
 * every key's requests may use for a model group. Loaded from config.yaml,
 * then from each model list the routers send (models added at run time
 * included).
 */
export class ModelAccess {
  private groups = new Map<string, readonly string[]>();
  /** model_alias_map: what a request's model names, before the team's and the key's aliases (as LiteLLM renames it). */
  renames: ReadonlyMap<string, string> = new Map();
  private expanded = new WeakMap<readonly string[], readonly string[]>();
  /** Changes with every load, for callers that keep what they worked out from it. */
  generation = 0;

  constructor(config: GatewayConfig) {
    this.load(config);
  }

  /** Reads the access groups of `config`'s model list; whether they changed. */
  load(config: GatewayConfig): boolean {
    const groups = new Map<string, Set<string>>();
    for (const entry of config.model_list) {
      for (const group of entry.model_info?.access_groups ?? []) {
        const members = groups.get(group) ?? new Set<string>();
        members.add(entry.model_name);
        groups.set(group, members);
      }
    }
    const next = new Map([...groups].map(([group, members]) => [group, [...members]] as const));
    const renames = new Map([...groupAliases(config)].filter(([, a]) => a.from === "litellm_settings.model_alias_map").map(([name, a]) => [name, a.group] as const));
    if (JSON.stringify([[...next], [...renames]]) === JSON.stringify([[...this.groups], [...this.renames]])) return false;
    this.groups = next;
    this.renames = renames;
    this.expanded = new WeakMap();
    this.generation++;
    return true;
  }

  /** Whether `models` (a key's or team's; null: every model) let a request to `model` through. */
  allows(models: ReadonlySet<string> | null, model: string): boolean {
    if (models === null || models.has(model)) return true;
    for (const name of models) if (this.groups.get(name)?.includes(model)) return true;
    return false;
  }

  /** Whether a models list (empty: every model) covers `model`, by name or through an access group. */
  covers(list: readonly string[], model: string): boolean {
    return list.length === 0 || list.includes(model) || this.expand(list).includes(model);
  }

  /** `list` with each access group replaced by its model groups (empty stays empty: every model); worked out once per list. */
  expand(list: readonly string[]): readonly string[] {
    if (this.groups.size === 0) return list;
    let out = this.expanded.get(list);
    if (!out) {
      out = [...new Set(list.flatMap((name) => this.groups.get(name) ?? [name]))];
      this.expanded.set(list, out);
    }
    return out;
  }
}
