import { sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

/**
 * One write of settled spend: its writer (a BudgetSpend, one per process)
 * and its number among that writer's writes, which only grows.
 */
export interface SpendWrite {
  writer: string;
  seq: number;
}

/**
 * A statement for a WITH clause that records `write` as made in `writers`
 * (a table of writer text primary key, seq bigint: each writer's last write
 * made) and returns a row only when neither it nor a later write of its
 * writer was made before: the statement it is part of adds the spend only
 * then. A write tried again after its connection closed may have been made
 * already (Postgres ran it, the answer was lost); this keeps it from being
 * counted twice.
 */
export function firstMaking(writers: PgTable, write: SpendWrite): SQL {
  return sql`INSERT INTO ${writers} (writer, seq) VALUES (${write.writer}, ${write.seq})
    ON CONFLICT (writer) DO UPDATE SET seq = EXCLUDED.seq WHERE ${writers}.seq < EXCLUDED.seq
    RETURNING 1`;
}
