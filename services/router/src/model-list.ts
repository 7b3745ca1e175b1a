import { ConfigError, credentialsOf, driverMessage, encodeModelPrices, MODEL_PRICES_SUBJECT, parseModelEntry, type Bus, type GatewayConfig, type Logger, type ModelEntry } from "@gateway/common";
import type { RouterBudgets } from "./budgets.js";
import { anyBudgets } from "./config/budget-settings.js";
import { cacheSettings } from "./config/cache-settings.js";
import { ModelGroups } from "./config/model-groups.js";
import type { DeploymentLimits } from "./deployment-limits.js";
import type { ModelStore, RuntimeModelRow } from "./model-admin/model-store.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "./providers/index.js";
import type { RoutingState, RoutingTable } from "./routing.js";
import { strategyFor } from "./strategies/index.js";

/** Live subject telling every router replica that the runtime models changed. */
export const MODELS_CHANGED_SUBJECT = "router.models.changed";
// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;

export interface ModelListDeps {
  config: GatewayConfig;
  /** Absent: no runtime models (a router without a database). */
  store: ModelStore | undefined;
  bus: Bus;
  state: RoutingState;
  limits: DeploymentLimits;
  /** Provider and deployment budgets; absent: a router without a database holds none. */
  budgets?: RouterBudgets | undefined;
  logger: Logger;
}

function entryOf(row: RuntimeModelRow): unknown {
  return { model_name: row.modelName, litellm_params: row.litellmParams, model_info: { ...row.modelInfo, id: row.id } };
}

/**
 * The routing table in force: config.yaml's model list and settings plus the
 * models added at runtime. Rebuilt whole when either changes, and swapped in
 * one assignment, so a request in flight keeps the table it started with.
 */
export class LiveModelList {
  private config: GatewayConfig;
  private runtime: ModelEntry[] = [];
  private current: RoutingTable;
  private loaded = false;
  private stopListening: (() => void) | undefined;
  private resync: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ModelListDeps) {
    this.config = deps.config;
    this.current = this.build(deps.config, []);
  }

  /** Loads the runtime models and starts following changes other replicas make. */
  async start(): Promise<void> {
    if (!this.deps.store) {
      this.loaded = true;
      return;
    }
    await this.refresh();
    this.loaded = true;
    this.stopListening = this.deps.bus.listen(MODELS_CHANGED_SUBJECT, () => void this.refreshLogged());
    this.resync = setInterval(() => void this.refreshLogged(), RESYNC_MS);
    this.resync.unref();
  }

  stop(): void {
    this.stopListening?.();
    clearInterval(this.resync);
  }

  table(): RoutingTable {
    return this.current;
  }

  /** A valid model list is in force (readiness). */
  ready(): boolean {
    return this.loaded;
  }

  /** The config.yaml entries and runtime models a change would leave, checked as a table; throws a ConfigError. */
  check(runtime: readonly ModelEntry[]): void {
    this.build(this.config, runtime);
  }

  /** A runtime model as given (POST /model/new) or stored, checked as config.yaml's entries are, with its credential from config.yaml's credential_list. */
  parseEntry(value: unknown, where: string): ModelEntry {
    return parseModelEntry(value, where, credentialsOf(this.config));
  }

  runtimeModels(): readonly ModelEntry[] {
    return this.runtime;
  }

  /** A reloaded config.yaml; throws a ConfigError (and changes nothing) when it cannot be used. */
  applyConfig(config: GatewayConfig): void {
    // The file alone must hold up before runtime models are fitted beside it.
    this.build(config, []);
    const runtime = this.usable(config, this.runtime);
    this.swap(this.build(config, runtime), config, runtime);
    this.config = config;
    // Runtime models that name a credential take its values as they are now.
    if (this.loaded && this.deps.store) void this.refreshLogged();
    const groups = this.current.groups;
    this.deps.logger.info({ groups: groups.names().length, deployments: groups.all().length, strategy: groups.settings.strategy }, "config reloaded");
    this.warnUnknownFallbacks();
  }

  /** Names fallbacks to models that do not exist (a typo, a model not added yet), which would otherwise fail without a word. */
  warnUnknownFallbacks(): void {
    const unknown = this.current.groups.unknownFallbacks();
    if (unknown.length > 0) this.deps.logger.warn({ unknown }, "these fallbacks name no model group, alias or wildcard; requests cannot fall back there");
  }

  /** After a change made on this replica: apply it here, then tell the others. */
  async changed(): Promise<void> {
    await this.refresh();
    this.deps.bus.broadcast(MODELS_CHANGED_SUBJECT, new Uint8Array());
  }

  private async refreshLogged(): Promise<void> {
    await this.refresh().catch((err: unknown) => this.deps.logger.error({ err: driverMessage(err) }, "reloading runtime models failed"));
  }

  private async refresh(): Promise<void> {
    const rows = await this.deps.store!.all();
    const entries: ModelEntry[] = [];
    for (const row of rows) {
      try {
        entries.push(this.parseEntry(entryOf(this.deps.store!.open(row)), `model ${row.id}`));
      } catch (err) {
        this.deps.logger.error({ deployment: row.id, err: (err as Error).message }, "runtime model skipped");
      }
    }
    this.runtime = this.usable(this.config, entries);
    this.swap(this.build(this.config, this.runtime), this.config, this.runtime);
  }

  /** The runtime models that fit beside this config; one that does not (say, its id now in config.yaml) is skipped, not fatal. */
  private usable(config: GatewayConfig, entries: readonly ModelEntry[]): ModelEntry[] {
    try {
      this.build(config, entries);
      return [...entries];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
    const kept: ModelEntry[] = [];
    for (const entry of entries) {
      try {
        this.build(config, [...kept, entry]);
        kept.push(entry);
      } catch (err) {
        this.deps.logger.error({ deployment: entry.model_info?.id, err: (err as Error).message }, "runtime model skipped");
      }
    }
    return kept;
  }

  private build(config: GatewayConfig, runtime: readonly ModelEntry[]): RoutingTable {
    const groups = ModelGroups.fromConfig(config, SUPPORTED_PROVIDERS, runtime);
    checkDeployments(groups);
    const budgets = anyBudgets(config, runtime) ? this.deps.budgets : undefined;
    return { groups, ...strategyFor(groups.settings, this.deps.limits), cache: cacheSettings(config), budgets };
  }

  private swap(table: RoutingTable, config: GatewayConfig, runtime: readonly ModelEntry[]): void {
    this.current = table;
    const ids = new Set(table.groups.all().map((d) => d.id));
    this.deps.state.cooldowns.retain(ids);
    this.deps.state.stats.retain(ids);
    // Budgets reserve against the models that may answer: tell the keys service (on every swap, the 30 s resync's too, for replicas that start later).
    this.deps.bus.broadcast(MODEL_PRICES_SUBJECT, encodeModelPrices(config, runtime));
  }
}
