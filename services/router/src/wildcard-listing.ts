import { WildcardName, type Logger } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { ModelGroups } from "./config/model-groups.js";
import { ProviderError } from "./providers/provider.js";
import { adapterFor } from "./providers/index.js";

// A provider's list is asked again after this long; a list it failed to give, after the shorter.
const FRESH_MS = 5 * 60_000;
const FAILED_MS = 60_000;
// The most one list may take: a listing waits for it.
const LIST_TIMEOUT_MS = 10_000;

interface ProviderList {
  until: number;
  /** The provider's model names; undefined when they could not be read. */
  names: Promise<readonly string[] | undefined>;
}

/**
 * LiteLLM's check_provider_endpoint: /v1/models lists a wildcard group
 * ("openai/*", "*") as the names it answers that its deployments' providers
 * offer ("openai/gpt-4o"), from each provider's own list of models, read at
 * most every five minutes and shared by the listings in between. A list
 * that cannot be read is logged, and its group listed by its pattern.
 */
export class WildcardListing {
  private readonly lists = new WeakMap<Deployment, ProviderList>();

  constructor(private readonly logger: Logger) {}

  /**
   * The names the group `pattern` answers among its deployments' providers'
   * models; undefined when no list could be read, or the pattern (or a
   * deployment's model) has more than one "*".
   */
  async names(pattern: string, deployments: readonly Deployment[]): Promise<string[] | undefined> {
    const group = new WildcardName(pattern);
    if (!group.single) return undefined;
    const lists = await Promise.all(deployments.map(async (d) => ({ model: new WildcardName(d.providerModel), names: await this.providerModels(d) })));
    if (lists.every((l) => l.names === undefined)) return undefined;
    const names = new Set<string>();
    for (const { model, names: offered } of lists) {
      if (!model.single) continue;
      for (const name of offered ?? []) {
        const matched = model.match(name);
        if (matched !== undefined) names.add(group.fill(matched));
      }
    }
    return [...names];
  }

  private providerModels(d: Deployment): Promise<readonly string[] | undefined> {
    const now = Date.now();
    const kept = this.lists.get(d);
    if (kept && kept.until > now) return kept.names;
    const list: ProviderList = { until: now + FRESH_MS, names: Promise.resolve(undefined) };
    list.names = this.read(d, list);
    this.lists.set(d, list);
    return list.names;
  }

  /** The provider's list; on a failure, undefined, and `list` is read again sooner. */
  private async read(d: Deployment, list: ProviderList): Promise<readonly string[] | undefined> {
    const adapter = adapterFor(d);
    try {
      if (!adapter.listModels) throw new ProviderError(`${d.provider} deployments do not list their models here`, 400, "invalid_request_error");
      return await adapter.listModels(d, AbortSignal.timeout(LIST_TIMEOUT_MS));
    } catch (err) {
      list.until = Date.now() + FAILED_MS;
      this.logger.warn({ deployment: d.id, provider: d.provider, err: err instanceof Error ? err.message : String(err) }, "provider model list not read; its wildcard is listed as it is");
      return undefined;
    }
  }
}

/**
 * The listed names with each wildcard group's in place of its pattern
 * (beside it with `keepPatterns`), those of no other group; a group whose
 * names could not be read keeps its pattern.
 */
export async function withProviderModels(listed: readonly string[], groups: ModelGroups, listing: WildcardListing, keepPatterns: boolean): Promise<string[]> {
  const taken = new Set(listed);
  const expanded = await Promise.all(
    listed.map(async (name) => {
      const deployments = WildcardName.is(name) ? groups.get(name) : undefined;
      const names = deployments && (await listing.names(name, deployments));
      if (names === undefined) return [name];
      const own = names.filter((n) => !taken.has(n));
      return keepPatterns ? [name, ...own] : own;
    }),
  );
  return [...new Set(expanded.flat())];
}
