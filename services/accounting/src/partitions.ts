import { sql } from "drizzle-orm";
import { rowsOf, type Db } from "@gateway/common";

export const DAY_MS = 86_400_000;

/** The tables partitioned by UTC day of start_time. */
export type PartitionedTable = "spend_logs" | "spend_log_payloads";

/** A UTC day as days since the epoch. */
export type Day = number;

export function dayOf(ms: number): Day {
  return Math.floor(ms / DAY_MS);
}

/** "2026-11-25" for a day. */
export function isoDay(day: Day): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

// spend_logs_p20261125: the date in the name lets a reader (and retention)
// see which day a partition holds without asking the catalog for its bounds.
const NAME = /^(spend_logs|spend_log_payloads)_p(\d{4})(\d{2})(\d{2})$/;

export function partitionName(table: PartitionedTable, day: Day): string {
  return `${table}_p${isoDay(day).replaceAll("-", "")}`;
}

function parsePartitionName(name: string): { table: PartitionedTable; day: Day } | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  const [, table, y, m, d] = match;
  return { table: table as PartitionedTable, day: dayOf(Date.UTC(Number(y), Number(m) - 1, Number(d))) };
}

/**
 * Creates daily partitions as the days arrive. The ledger asks before every
 * batch; days already made are remembered, so a batch usually costs no query.
 */
export class Partitions {
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  async ensure(table: PartitionedTable, days: Iterable<Day>): Promise<void> {
    const missing = [...new Set(days)].filter((day) => !this.known.has(partitionName(table, day)));
    if (missing.length === 0) return;
    await this.db.transaction(async (tx) => {
      // Replicas booking the first events of a day race to create its
      // partition; the lock makes the loser find it made.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('accounting:partitions'))`);
      for (const day of missing) {
        const from = new Date(day * DAY_MS).toISOString();
        const to = new Date((day + 1) * DAY_MS).toISOString();
        await tx.execute(
          sql.raw(
            `CREATE TABLE IF NOT EXISTS "accounting"."${partitionName(table, day)}" PARTITION OF "accounting"."${table}" FOR VALUES FROM ('${from}') TO ('${to}')`,
          ),
        );
      }
    });
    for (const day of missing) this.known.add(partitionName(table, day));
  }

  /** Forgets what was made, after partitions were dropped behind this cache's back. */
  forget(): void {
    this.known.clear();
  }

  /** The table's daily partitions, oldest first. */
  async list(table: PartitionedTable): Promise<{ name: string; day: Day }[]> {
    const rows = await this.db.execute<{ name: string }>(sql`
      SELECT child.relname AS name
      FROM pg_inherits
      JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
      JOIN pg_class child ON child.oid = pg_inherits.inhrelid
      JOIN pg_namespace ns ON ns.oid = parent.relnamespace
      WHERE ns.nspname = 'accounting' AND parent.relname = ${table}`);
    const partitions = [];
    for (const row of rowsOf<{ name: string }>(rows)) {
      const parsed = parsePartitionName(row.name);
      if (parsed?.table === table) partitions.push({ name: row.name, day: parsed.day });
    }
    return partitions.sort((a, b) => a.day - b.day);
  }

  /** Drops the table's partitions for days before `firstKept`; returns their names. */
  async dropBefore(table: PartitionedTable, firstKept: Day): Promise<string[]> {
    const dropped: string[] = [];
    for (const { name, day } of await this.list(table)) {
      if (day >= firstKept) break;
      await this.db.execute(sql.raw(`DROP TABLE IF EXISTS "accounting"."${name}"`));
      this.known.delete(name);
      dropped.push(name);
    }
    return dropped;
  }
}
