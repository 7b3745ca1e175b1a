import { fileURLToPath } from "node:url";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { Bus, Database, Logger } from "@gateway/common";
import type { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { startLedgerConsumer } from "./consumer.js";
import { Ledger } from "./ledger.js";
import { accountingRoutes, createAccountingService } from "./service.js";

export { LEDGER_DURABLE, USAGE_SUBJECT, startLedgerConsumer } from "./consumer.js";
export { DEFAULT_LIST_LIMIT, Ledger, MAX_LIST_LIMIT, type SpendLogFilters } from "./ledger.js";
export { accountingRoutes, createAccountingService } from "./service.js";

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

export async function startAccounting(deps: { database: Database; bus: Bus; logger: Logger }): Promise<Accounting> {
  await migrateAccounting(deps.database);
  const ledger = new Ledger(deps.database.db);
  const consumer = await startLedgerConsumer(deps.bus, ledger, deps.logger);
  const impl = createAccountingService({ ledger });
  return { impl, routes: accountingRoutes(impl), stop: () => consumer.stop() };
}
