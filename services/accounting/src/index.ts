import { fileURLToPath } from "node:url";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { hashKey, type Bus, type Database, type GatewayConfig, type Logger } from "@gateway/common";
import type { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { startLedgerConsumer } from "./consumer.js";
import { Ledger } from "./ledger.js";
import { retentionSettings, scheduleRetention } from "./retention.js";
import { accountingRoutes, createAccountingService } from "./service.js";
import { SpendReports } from "./spend-reports.js";

export { LEDGER_DURABLE, USAGE_SUBJECT, startLedgerConsumer } from "./consumer.js";
export { DEFAULT_LIST_LIMIT, Ledger, MAX_LIST_LIMIT, type LedgerOptions, type SpendLogFilters, type TagSpendRow } from "./ledger.js";
export { dayOf, isoDay, partitionName, Partitions } from "./partitions.js";
export { applyRetention, retentionSettings, type RetentionSettings } from "./retention.js";
export { accountingRoutes, createAccountingService, type AccountingServiceDeps } from "./service.js";
export { SpendReports, type SpendTotalRow } from "./spend-reports.js";

const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

/** Brings the accounting schema up to date; already-applied migrations are skipped. */
export function migrateAccounting(database: Database): Promise<void> {
  return database.migrate(MIGRATIONS_FOLDER, "accounting");
}

export interface Accounting {
  impl: ServiceImpl<typeof AccountingService>;
  routes: (router: ConnectRouter) => ConnectRouter;
  /** Stops consuming usage events; the database and bus stay open for their owner to close. */
  stop(): Promise<void>;
}

export interface AccountingDeps {
  database: Database;
  bus: Bus;
  logger: Logger;
  /** config.yaml's general_settings: prompt storage and retention; absent means the defaults. */
  settings?: GatewayConfig["general_settings"];
}

export async function startAccounting(deps: AccountingDeps): Promise<Accounting> {
  await migrateAccounting(deps.database);
  const settings = deps.settings ?? {};
  const ledger = new Ledger(deps.database.db, { storePrompts: settings.store_prompts_in_spend_logs ?? false });
  const stopRetention = scheduleRetention(ledger.partitions, retentionSettings(settings), deps.logger);
  const consumer = await startLedgerConsumer(deps.bus, ledger, deps.logger);
  const masterKey = settings.master_key;
  const impl = createAccountingService({ ledger, reports: new SpendReports(deps.database.db), masterKeyHash: masterKey === undefined ? undefined : hashKey(masterKey) });
  return {
    impl,
    routes: accountingRoutes(impl),
    stop: async () => {
      await consumer.stop();
      await stopRetention();
    },
  };
}
