import { sql } from "drizzle-orm";
import { openDatabase, type Database } from "@gateway/common";
import { createTestDatabase } from "@gateway/testing";
import { spendLogs } from "../../src/db/schema.js";
import { Ledger, migrateAccounting, SpendReports, type LedgerOptions } from "../../src/index.js";

export interface LedgerDatabase {
  database: Database;
  ledger: Ledger;
  reports: SpendReports;
  /** Every row in the ledger, by request id. */
  requestIds(): Promise<string[]>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** A migrated accounting schema in a fresh database on the real Postgres. */
export async function openLedgerDatabase(options: LedgerOptions = {}): Promise<LedgerDatabase> {
  const testDatabase = await createTestDatabase();
  const database = await openDatabase({ url: testDatabase.url, max: 2 });
  await migrateAccounting(database);
  return {
    database,
    ledger: new Ledger(database.db, options),
    reports: new SpendReports(database.db),
    requestIds: async () => {
      const rows = await database.db.select({ id: spendLogs.requestId }).from(spendLogs).orderBy(spendLogs.requestId);
      return rows.map((row) => row.id);
    },
    clear: async () => {
      await database.db.execute(sql`TRUNCATE accounting.spend_logs, accounting.spend_log_payloads, accounting.daily_spend, accounting.daily_entity_spend`);
    },
    close: async () => {
      await database.close();
      await testDatabase.drop();
    },
  };
}
