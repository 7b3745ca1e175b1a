import { fileURLToPath } from "node:url";
import { Allowances, BudgetSpend, gatewaySecret, hashKey, KEYS_DELETED_SUBJECT, metrics, ObjectIds, sendRelease, type Bus, type Database, type GatewayConfig, type Logger } from "@gateway/common";
import { BatchRecovery } from "./batch-recovery.js";
import { RouterBudgets } from "./budgets.js";
import { cacheNotices } from "./config/cache-settings.js";
import { deploymentLabels, splitModel } from "./config/deployment.js";
import { ModelGroups } from "./config/model-groups.js";
import { unkeyedEntries } from "./config/provider-env.js";
import { ConfigReloader } from "./config/reload.js";
import { Cooldowns } from "./cooldowns.js";
import { BatchBookings } from "./db/batch-bookings.js";
import { BudgetAllowanceStore } from "./db/budget-allowance-store.js";
import { DeploymentAllowanceStore } from "./db/deployment-allowance-store.js";
import { SharedDeploymentLimits } from "./deployment-limits.js";
import { DeploymentStats } from "./deployment-stats.js";
import { BackgroundHealth } from "./model-admin/background-health.js";
import { CredentialStore } from "./credential-admin/credential-store.js";
import { ModelStore } from "./model-admin/model-store.js";
import { ParamSeal } from "./model-admin/sealed-params.js";
import { LiveModelList } from "./model-list.js";
import { FilesApi } from "./files.js";
import { PassThrough } from "./pass-through.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "./providers/index.js";
import { ResponseCache } from "./response-cache.js";
import { createRouterService, routerRoutes, type CacheForget } from "./service.js";
import { SHARED_ANSWERS_STORE, SharedAnswers, sharedAnswerLimits } from "./shared-answers.js";
import { UsagePublisher, USAGE_SUBJECT } from "./usage-publisher.js";

export { Outbox } from "./outbox.js";
export { UsagePublisher, type UsagePublisherOptions } from "./usage-publisher.js";

export { createRouterService, routerRoutes, ModelGroups, SUPPORTED_PROVIDERS, USAGE_SUBJECT };

/**
 * Checks config.yaml's model list and router settings as a start would, without
 * a database or bus; throws a ConfigError naming the entry. The start runs it
 * first, so a mistake in the file is not reported after waiting for Postgres.
 */
export function checkModelList(config: GatewayConfig): void {
  checkDeployments(ModelGroups.fromConfig(config, SUPPORTED_PROVIDERS));
}

const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));
/** Live subject telling every router replica to drop cached answers (JSON: { keys, all }). */
const CACHE_DELETE_SUBJECT = "router.cache.delete";
// LiteLLM's default for general_settings.health_check_interval, in seconds.
const DEFAULT_HEALTH_CHECK_INTERVAL_S = 300;

/** What a cache delete push drops; nothing when it cannot be read. */
function forgetting(data: Uint8Array): CacheForget {
  try {
    const { keys, all } = JSON.parse(Buffer.from(data).toString()) as Partial<Record<keyof CacheForget, unknown>>;
    return { keys: Array.isArray(keys) ? keys.filter((key): key is string => typeof key === "string") : [], all: all === true };
  } catch {
    return { keys: [], all: false };
  }
}

export async function startRouter(deps: {
  config: GatewayConfig;
  /** config.yaml, watched: a valid change replaces the model list and router settings. */
  configPath?: string | undefined;
  /** Runtime models (POST /model/new), and per-deployment limits and budgets shared with the other replicas. */
  database: Database;
  bus: Bus;
  logger: Logger;
  /** Where usage events wait on disk until JetStream acks them; absent keeps them in memory only. */
  outboxDir?: string | undefined;
}) {
  await deps.database.migrate(MIGRATIONS_FOLDER, "router");
  const state = { cooldowns: new Cooldowns(), stats: new DeploymentStats(), logger: deps.logger };
  const limits = new SharedDeploymentLimits(new DeploymentAllowanceStore(deps.database.db), deps.logger);
  const budgetStore = new BudgetAllowanceStore(deps.database.db);
  const budgets = new RouterBudgets(new Allowances(budgetStore, deps.logger), new BudgetSpend(budgetStore, deps.logger));
  const masterKey = deps.config.general_settings.master_key;
  // Without either, nothing can be added (model admin takes the master key) and nothing stored under one can be read.
  const seal = new ParamSeal(gatewaySecret(deps.config));
  const store = new ModelStore(deps.database.db, seal);
  const sealed = await store.sealStored();
  if (sealed > 0) deps.logger.info({ models: sealed }, "sealed the provider keys of runtime models stored in plain text");
  const credentials = new CredentialStore(deps.database.db, seal, deps.logger);
  // config.yaml's models may name stored credentials: they are there before the first table is built.
  const models = new LiveModelList({ config: deps.config, store, credentials, bus: deps.bus, state, limits, budgets, logger: deps.logger }, await credentials.all());
  await models.start();
  models.warnUnknownFallbacks();
  const stopDeploymentStates = metrics.watchDeployments(() => models.table().groups.all().map((d) => ({ ...deploymentLabels(d), state: state.cooldowns.state(d.id) })));
  const unkeyed = unkeyedEntries(models.configEntries(), (model) => splitModel(model).provider);
  if (unkeyed.length > 0) deps.logger.warn({ unkeyed }, "these deployments call an api_base of their own with no api_key: the provider's key variable is not sent there");
  for (const notice of cacheNotices(deps.config)) deps.logger.warn({ notice }, "response cache");
  const cache = new ResponseCache();
  const bus = deps.bus;
  const sharedAnswers = bus.openStore && new SharedAnswers(() => bus.openStore!(SHARED_ANSWERS_STORE, sharedAnswerLimits(models.table().cache?.ttlMs ?? 0)), deps.logger);
  if (models.table().cache?.shared && !sharedAnswers) deps.logger.info("response cache: one process with its own bus, so answers are kept in its memory (cache_params.type redis shares them between replicas over NATS)");
  const forget = ({ keys, all }: CacheForget) => (all ? cache.clear() : cache.delete(keys));
  const stopForgetting = deps.bus.listen(CACHE_DELETE_SUBJECT, (data) => forget(forgetting(data)));
  // Deleted keys make no more requests: LiteLLM's metrics drop their series, which otherwise piled up one set per key ever used.
  const stopForgettingKeys = metrics.servesLiteLLM ? deps.bus.listen(KEYS_DELETED_SUBJECT, (data) => metrics.forgetDeletedKeys(data)) : () => {};
  const applyConfig = (config: GatewayConfig) => {
    models.applyConfig(config);
    // Turned off: what it kept is of no more use.
    if (!models.table().cache) cache.clear();
  };
  const reloader = deps.configPath ? new ConfigReloader(deps.configPath, applyConfig, deps.logger) : undefined;
  reloader?.start();
  const publisher = new UsagePublisher(deps.bus, deps.logger, {
    outboxDir: deps.outboxDir,
    storePrompts: deps.config.general_settings.store_prompts_in_spend_logs ?? false,
    bookEndUsers: deps.config.litellm_settings.disable_end_user_cost_tracking !== true,
  });
  const bookings = new BatchBookings(deps.database.db);
  const batchRecovery = new BatchRecovery(bookings, publisher, deps.logger);
  const settings = deps.config.general_settings;
  const health = settings.background_health_checks ? new BackgroundHealth(models, (settings.health_check_interval ?? DEFAULT_HEALTH_CHECK_INTERVAL_S) * 1000, deps.logger) : undefined;
  const impl = createRouterService({
    health,
    passThrough: PassThrough.fromConfig(deps.config),
    files: new FilesApi(new ObjectIds(gatewaySecret(deps.config)), bookings, deps.logger),
    models,
    store,
    credentials,
    state,
    publisher,
    logger: deps.logger,
    masterKeyHash: masterKey === undefined ? undefined : hashKey(masterKey),
    settleReservation: (release) => void sendRelease(deps.bus, release, deps.logger),
    cache,
    sharedAnswers,
    budgets,
    forgetCached: async (request) => {
      forget(request);
      deps.bus.broadcast(CACHE_DELETE_SUBJECT, Buffer.from(JSON.stringify(request)));
      if (sharedAnswers && (models.table().cache?.shared || sharedAnswers.opened)) await sharedAnswers.forget(request);
    },
  });
  return {
    impl,
    routes: routerRoutes(impl),
    /** Re-reads config.yaml (SIGHUP); a broken file is logged and the running config stays. */
    reload: () => reloader?.reload() ?? Promise.resolve(),
    /** A valid model list is loaded. */
    ready: () => models.ready(),
    /** Waits until every usage event of finished requests is stored. */
    flush: () => publisher.flush(),
    /** Usage events not yet stored that no outbox holds either: what stopping now would lose. */
    unsaved: () => publisher.unsaved,
    /** Stops watching and following changes, gives back held limits, stops retrying publishes (what is unsent stays in the outbox). */
    async close() {
      stopDeploymentStates();
      reloader?.stop();
      health?.stop();
      stopForgetting();
      stopForgettingKeys();
      models.stop();
      await limits.close();
      await budgets.close();
      await batchRecovery.stop();
      publisher.close();
    },
  };
}
