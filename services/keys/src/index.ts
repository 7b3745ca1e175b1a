import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Allowances, BudgetSpend, ConfigError, decodeModelPrices, driverMessage, metrics, MODEL_PRICES_SUBJECT, type Bus, type Database, type GatewayConfig, type Logger } from "@gateway/common";
import { AllowanceStore } from "./allowance-store.js";
import { ParallelHolders } from "./parallel-holders.js";
import { budgetStates } from "./budget-states.js";
import { gatewayLimits } from "./gateway-limits.js";
import { KeyCache } from "./key-cache.js";
import { KeyStore } from "./key-store.js";
import { Limits } from "./limits.js";
import { MasterKey } from "./master-key.js";
import { ModelAccess } from "./model-access.js";
import { ReservationPricing } from "./reservation-pricing.js";
import { ORGANIZATIONS_CHANGED_SUBJECT, toOrganizationRecord } from "./organization-record.js";
import { OrganizationStore } from "./organization-store.js";
import { TableCache } from "./table-cache.js";
import { TEAMS_CHANGED_SUBJECT, toTeamRecord } from "./team-record.js";
import { CUSTOMERS_CHANGED_SUBJECT, toCustomerRecord } from "./customer-record.js";
import { BudgetStore } from "./budget-store.js";
import { CustomerStore } from "./customer-store.js";
import { DefaultCustomerBudget } from "./default-customer-budget.js";
import { TAGS_CHANGED_SUBJECT, toTagRecord } from "./tag-record.js";
import { TagStore } from "./tag-store.js";
import { toUserRecord, USERS_CHANGED_SUBJECT } from "./user-record.js";
import { UserStore } from "./user-store.js";
import { TeamStore } from "./team-store.js";
import { createKeysService, keysRoutes } from "./service.js";

export { createKeysService, keysRoutes, MasterKey };

// The master keys the repository hands out: the shipped config.yaml's (and
// LiteLLM's docs'), and deploy/.env.example's, which compose passes on as
// LITELLM_MASTER_KEY when .env is copied without changing it.
const DEMO_MASTER_KEYS = new Set(["sk-1234", "sk-change-me"]);
const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

/** config.yaml's master key; throws a ConfigError when there is none (the start checks this before opening anything). */
export function masterKeyOf(config: GatewayConfig): string {
  const key = config.general_settings.master_key;
  if (key === undefined) throw new ConfigError("general_settings.master_key (or the LITELLM_MASTER_KEY variable) must be set");
  return key;
}

export async function startKeys(deps: { config: GatewayConfig; database: Database; bus: Bus; logger: Logger }) {
  const key = masterKeyOf(deps.config);
  if (DEMO_MASTER_KEYS.has(key)) {
    deps.logger.warn("general_settings.master_key is the shipped demo value; change it before anyone else can reach this gateway");
  }
  await deps.database.migrate(MIGRATIONS_FOLDER, "keys");
  const store = new KeyStore(deps.database.db);
  // This replica, as release messages and the parallel slots' records name it.
  const holder = randomUUID();
  const allowanceStore = new AllowanceStore(deps.database.db, holder);
  const allowances = new Allowances(allowanceStore, deps.logger);
  const parallelHolders = new ParallelHolders(deps.database.db, holder, allowances, deps.logger);
  await parallelHolders.start();
  const spend = new BudgetSpend(allowanceStore, deps.logger);
  const limits = new Limits(allowances, spend);
  const cache = new KeyCache(store, deps.bus, deps.logger);
  await cache.start();
  // A change of a key, or of its team, user, organization, customer or tag (their limits, their spend), is seen by the next request.
  const stopForgettingRefusals = cache.watch(() => allowances.forgetRefusals());
  const teamStore = new TeamStore(deps.database.db);
  const teams = new TableCache(
    {
      what: "team",
      subject: TEAMS_CHANGED_SUBJECT,
      load: () => teamStore.all(),
      byIds: (ids) => teamStore.byIds(ids),
      idOf: (row) => row.teamId,
      toRecord: toTeamRecord,
      onChange: () => cache.anyChanged(),
    },
    deps.bus,
    deps.logger,
  );
  await teams.start();
  const budgetStore = new BudgetStore(deps.database.db);
  const organizationStore = new OrganizationStore(deps.database.db, budgetStore);
  const organizations = new TableCache(
    {
      what: "organization",
      subject: ORGANIZATIONS_CHANGED_SUBJECT,
      load: () => organizationStore.all(),
      byIds: (ids) => organizationStore.byIds(ids),
      idOf: (row) => row.organizationId,
      toRecord: toOrganizationRecord,
      onChange: () => cache.anyChanged(),
    },
    deps.bus,
    deps.logger,
  );
  await organizations.start();
  const userStore = new UserStore(deps.database.db);
  const users = new TableCache(
    {
      what: "user",
      subject: USERS_CHANGED_SUBJECT,
      load: () => userStore.all(),
      byIds: (ids) => userStore.byIds(ids),
      idOf: (row) => row.userId,
      toRecord: toUserRecord,
      onChange: () => cache.anyChanged(),
    },
    deps.bus,
    deps.logger,
  );
  await users.start();
  const customerStore = new CustomerStore(deps.database.db, budgetStore);
  const defaultCustomerBudget = DefaultCustomerBudget.fromConfig(deps.config.litellm_settings, budgetStore, deps.logger);
  const customers = new TableCache(
    {
      what: "customer",
      subject: CUSTOMERS_CHANGED_SUBJECT,
      // The default budget is read with them all: a budget's change reloads both (allChanged).
      load: async () => (await Promise.all([customerStore.all(), defaultCustomerBudget?.load()]))[0],
      byIds: (ids) => customerStore.byIds(ids),
      idOf: (row) => row.userId,
      toRecord: toCustomerRecord,
      onChange: () => cache.anyChanged(),
    },
    deps.bus,
    deps.logger,
  );
  await customers.start();
  const tagStore = new TagStore(deps.database.db);
  const tags = new TableCache(
    {
      what: "tag",
      subject: TAGS_CHANGED_SUBJECT,
      load: () => tagStore.all(),
      byIds: (names) => tagStore.byNames(names),
      idOf: (row) => row.name,
      toRecord: toTagRecord,
      onChange: () => cache.anyChanged(),
    },
    deps.bus,
    deps.logger,
  );
  await tags.start();
  const pricing = new ReservationPricing(deps.config);
  const access = new ModelAccess(deps.config);
  // The router's model list, as it changes (runtime models, config reloads).
  const stopFollowingPrices = deps.bus.listen(MODEL_PRICES_SUBJECT, (data) => {
    try {
      const models = decodeModelPrices(data);
      pricing.load(models);
      // Answers callers keep name the models a key may use: they go when a group changes.
      if (access.load(models)) cache.anyChanged();
    } catch (err) {
      deps.logger.error({ err: driverMessage(err) }, "a model list for budget reservations and access groups could not be read; the last one stays");
    }
  });
  const stopBudgetGauges = metrics.watchBudgets(() => budgetStates(store, teams.all(), spend));
  const impl = createKeysService({
    config: deps.config,
    masterKey: new MasterKey(key),
    store,
    allowances: allowanceStore,
    spend,
    cache,
    teamStore,
    teams,
    organizationStore,
    organizations,
    userStore,
    users,
    customerStore,
    budgetStore,
    customers,
    defaultCustomerBudget,
    tagStore,
    tags,
    limits,
    pricing,
    access,
    gateway: gatewayLimits(deps.config),
    holder,
    bus: deps.bus,
    logger: deps.logger,
  });
  return {
    impl,
    routes: keysRoutes(impl),
    /** Ends the WatchKeys streams, which would otherwise hold a shutting-down server open. */
    closing: () => impl.endWatches(),
    /**
     * Waits (until `deadline`) for the requests this replica admitted to be
     * released, then stops listening, gives back every unused allowance and
     * writes the spend not yet written.
     */
    async stop(deadline = Date.now()) {
      const drained = await limits.drain(deadline);
      stopFollowingPrices();
      stopBudgetGauges();
      impl.stop();
      stopForgettingRefusals();
      cache.stop();
      teams.stop();
      organizations.stop();
      users.stop();
      customers.stop();
      tags.stop();
      limits.close();
      await allowances.close();
      if (drained) await parallelHolders.stop();
      else {
        parallelHolders.leave();
        deps.logger.warn(
          "requests admitted here were not all released before the shutdown deadline: their budgets are settled as fully used, and their parallel slots stay taken until this replica's row in keys.holders lapses (30 s)",
        );
      }
      await spend.close();
    },
  };
}
