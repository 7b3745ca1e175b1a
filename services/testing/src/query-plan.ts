import { sql, type SQL } from "drizzle-orm";
import type { Db } from "@gateway/common";

/**
 * Postgres's plan for `statement` with sequential scans priced out, as
 * text: an index that serves the statement shows by name, and without one
 * the plan is still a sequential scan (tables in tests are too small for
 * the planner to pick an index on its own).
 */
export async function planWithoutSeqScans(db: Db, statement: SQL): Promise<string> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL enable_seqscan = off`);
    return JSON.stringify(await tx.execute(sql`EXPLAIN ${statement}`));
  });
}
