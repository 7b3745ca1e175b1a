import { ConfigError, type GatewayConfig } from "@gateway/common";
import { buildDeployment, type Deployment } from "./deployment.js";

/** config.yaml's model_list, grouped by model_name, built once per config load. */
export class ModelGroups {
  readonly loadedAt = Math.floor(Date.now() / 1000);

  private constructor(private readonly groups: ReadonlyMap<string, readonly Deployment[]>) {}

  static fromConfig(config: GatewayConfig, supportedProviders: ReadonlySet<string>): ModelGroups {
    const groups = new Map<string, Deployment[]>();
    const ids = new Set<string>();
    config.model_list.forEach((entry, i) => {
      const deployment = buildDeployment(entry, config, supportedProviders, `model_list[${i}]`);
      if (ids.has(deployment.id)) throw new ConfigError(`model_list[${i}]: deployment id "${deployment.id}" is used twice`);
      ids.add(deployment.id);
      const group = groups.get(entry.model_name) ?? [];
      group.push(deployment);
      groups.set(entry.model_name, group);
    });
    return new ModelGroups(groups);
  }

  get(name: string): readonly Deployment[] | undefined {
    return this.groups.get(name);
  }

  names(): string[] {
    return [...this.groups.keys()];
  }
}
