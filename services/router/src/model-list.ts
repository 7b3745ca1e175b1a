import {
  ConfigError,
  credentialsOf,
  credentialValues,
  driverMessage,
  encodeModelPrices,
  metrics,
  MODEL_PRICES_SUBJECT,
  parseModelEntry,
  redactInLogs,
  withCredential,
  type Bus,
  type Credentials,
  type GatewayConfig,
  type Logger,
  type ModelEntry,
} from "@gateway/common";
import type { RouterBudgets } from "./budgets.js";
import { anyBudgets } from "./config/budget-settings.js";
import { cacheSettings } from "./config/cache-settings.js";
import { ModelGroups } from "./config/model-groups.js";
import type { CredentialStore, StoredCredential } from "./credential-admin/credential-store.js";
import type { DeploymentLimits } from "./deployment-limits.js";
import type { ModelStore, RuntimeModelRow } from "./model-admin/model-store.js";
import { isSecretParam } from "./model-admin/sealed-params.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "./providers/index.js";
import type { RoutingState, RoutingTable } from "./routing.js";
import { strategyFor } from "./strategies/index.js";

/** Live subject telling every router replica that the runtime models or the stored credentials changed. */
export const MODELS_CHANGED_SUBJECT = "router.models.changed";
// Pushes can be missed while NATS reconnects; a full reload bounds how long.
const RESYNC_MS = 30_000;

export interface ModelListDeps {
  config: GatewayConfig;
  /** Absent: no runtime models (a router without a database). */
  store: ModelStore | undefined;
  /** Credentials stored with POST /credentials; absent with the store. */
  credentials: CredentialStore | undefined;
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
 * The stored credentials' values as models take them, their secrets kept
 * out of the logs; one naming a variable not set on this replica is told to
 * `unusable` (which may throw) and left out.
 */
function usableValues(stored: readonly StoredCredential[], unusable: (name: string, err: ConfigError) => void): Credentials {
  const usable = new Map<string, Record<string, unknown>>();
  for (const c of stored) {
    try {
      const values = credentialValues(c.values, `credential "${c.name}".credential_values`);
      redactInLogs(Object.entries(values).flatMap(([name, value]) => (isSecretParam(name) && typeof value === "string" ? [value] : [])));
      usable.set(c.name, values);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      unusable(c.name, err);
    }
  }
  return usable;
}

/**
 * The routing table in force: config.yaml's model list and settings plus the
 * models added at runtime, their litellm_credential_name filled in from
 * config.yaml's credential_list or else the stored credentials. Rebuilt
 * whole when any of them changes, and swapped in one assignment, so a
 * request in flight keeps the table it started with.
 */
export class LiveModelList {
  private config: GatewayConfig;
  private runtime: ModelEntry[] = [];
  private stored: readonly StoredCredential[];
  private storedValues: Credentials;
  private current: RoutingTable;
  private loaded = false;
  /** The deployments of the table in force, by id. */
  private deployed: ReadonlySet<string> = new Set();
  private stopListening: (() => void) | undefined;
  private resync: NodeJS.Timeout | undefined;

  /** `stored`: the stored credentials as they are at start, which config.yaml's models may name. */
  constructor(
    private readonly deps: ModelListDeps,
    stored: readonly StoredCredential[] = [],
  ) {
    this.config = deps.config;
    this.stored = stored;
    this.storedValues = this.valuesOf(stored);
    this.current = this.build(deps.config, []);
    this.deployed = new Set(this.current.groups.all().map((d) => d.id));
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

  /** A runtime model as given (POST /model/new) or stored, checked as config.yaml's entries are, with its credential filled in. */
  parseEntry(value: unknown, where: string, values = this.storedValues): ModelEntry {
    return parseModelEntry(value, where, this.credentials(this.config, values));
  }

  /** config.yaml's credential_list. */
  configCredentials(): StoredCredential[] {
    return (this.config.credential_list ?? []).map((c) => ({ name: c.credential_name, values: c.credential_values, info: c.credential_info ?? {} }));
  }

  /** The stored credentials in force (a replica's copy, reloaded with the runtime models). */
  storedCredentials(): readonly StoredCredential[] {
    return this.stored;
  }

  /**
   * Throws a ConfigError when the stored credentials changed to `stored`
   * would break a model that works now: config.yaml's, or a runtime one
   * (`rows`, as stored) naming a credential taken away or given values it
   * cannot take; or when `changed`, the credential created or changed,
   * names a variable not set.
   */
  checkCredentials(stored: readonly StoredCredential[], rows: readonly RuntimeModelRow[], changed?: string): void {
    const values = usableValues(stored, (name, err) => {
      if (name === changed) throw err;
    });
    const runtime: ModelEntry[] = [];
    for (const row of rows) {
      const entry = entryOf(this.deps.store!.open(row));
      try {
        this.parseEntry(entry, `model ${row.id}`);
      } catch {
        // Skipped already; the change does not make it worse.
        continue;
      }
      runtime.push(this.parseEntry(entry, `model ${row.id}`, values));
    }
    this.build(this.config, runtime, values);
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
    const stored = this.deps.credentials ? await this.deps.credentials.all() : this.stored;
    const values = this.valuesOf(stored);
    const rows = await this.deps.store!.all();
    const entries: ModelEntry[] = [];
    for (const row of rows) {
      try {
        entries.push(this.parseEntry(entryOf(this.deps.store!.open(row)), `model ${row.id}`, values));
      } catch (err) {
        this.deps.logger.error({ deployment: row.id, err: (err as Error).message }, "runtime model skipped");
      }
    }
    const runtime = this.usable(this.config, entries, values);
    const table = this.build(this.config, runtime, values);
    this.stored = stored;
    this.storedValues = values;
    this.runtime = runtime;
    this.swap(table, this.config, runtime);
  }

  /** The runtime models that fit beside this config; one that does not (say, its id now in config.yaml) is skipped, not fatal. */
  private usable(config: GatewayConfig, entries: readonly ModelEntry[], values = this.storedValues): ModelEntry[] {
    try {
      this.build(config, entries, values);
      return [...entries];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
    const kept: ModelEntry[] = [];
    for (const entry of entries) {
      try {
        this.build(config, [...kept, entry], values);
        kept.push(entry);
      } catch (err) {
        this.deps.logger.error({ deployment: entry.model_info?.id, err: (err as Error).message }, "runtime model skipped");
      }
    }
    return kept;
  }

  /** The stored credentials' values this replica can use; one it cannot is logged and left out (a model naming it then fails as one naming no credential). */
  private valuesOf(stored: readonly StoredCredential[]): Credentials {
    return usableValues(stored, (name, err) => this.deps.logger.error({ credential: name, err: err.message }, "stored credential skipped"));
  }

  /** config.yaml's credential_list over the stored credentials' values: of two with one name, the file's is used. */
  private credentials(config: GatewayConfig, values: Credentials): Credentials {
    return new Map([...values, ...credentialsOf(config)]);
  }

  /** config.yaml's model list in force, each entry with the values of the credential it names. */
  configEntries(): ModelEntry[] {
    return this.withCredentials(this.config, this.storedValues);
  }

  private withCredentials(config: GatewayConfig, values: Credentials): ModelEntry[] {
    const credentials = this.credentials(config, values);
    return config.model_list.map((entry, i) => withCredential(entry, credentials, `model_list[${i}]`));
  }

  private build(config: GatewayConfig, runtime: readonly ModelEntry[], values = this.storedValues): RoutingTable {
    const resolved = { ...config, model_list: this.withCredentials(config, values) };
    const groups = ModelGroups.fromConfig(resolved, SUPPORTED_PROVIDERS, runtime);
    checkDeployments(groups);
    const budgets = anyBudgets(config, runtime) ? this.deps.budgets : undefined;
    return { groups, ...strategyFor(groups.settings, this.deps.limits), cache: cacheSettings(config), budgets };
  }

  private swap(table: RoutingTable, config: GatewayConfig, runtime: readonly ModelEntry[]): void {
    this.current = table;
    const ids = new Set(table.groups.all().map((d) => d.id));
    this.deps.state.cooldowns.retain(ids);
    this.deps.state.stats.retain(ids);
    // Metric series of removed deployments go too (only when one was removed: the 30 s resync swaps the same list).
    if ([...this.deployed].some((id) => !ids.has(id))) metrics.retainDeployments(ids);
    this.deployed = ids;
    // Budgets reserve against the models that may answer: tell the keys service (on every swap, the 30 s resync's too, for replicas that start later).
    this.deps.bus.broadcast(MODEL_PRICES_SUBJECT, encodeModelPrices(config, runtime));
  }
}
