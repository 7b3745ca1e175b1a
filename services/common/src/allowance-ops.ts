import { sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

// The statements below work on a table of applied allowance operations
// (op uuid primary key, made_at timestamptz not null default now()), one per
// service schema. A take, charge or give-back whose connection closes may
// have been applied (Postgres ran it, the answer was lost) or not; its id
// lets it be tried again, or asked about, without applying it twice. A
// statement still in flight holds its op row uncommitted, so another one
// inserting the same op waits for it to commit or abort: the answers are
// exact.

/**
 * A statement for a WITH clause that records `op` in `ops` and returns a
 * row only when it was not recorded before: the statement it is part of
 * makes its change only then (a charge or give-back tried again after its
 * answer was lost).
 */
export function firstApplying(ops: PgTable, op: string): SQL {
  return sql`INSERT INTO ${ops} (op) VALUES (${op}::uuid) ON CONFLICT DO NOTHING RETURNING 1`;
}

/**
 * A statement for a WITH clause that records `op` in `ops` once for each
 * row of the WITH clause `taken` (a take that fitted). It fails, and with
 * it the take, when the op is already recorded: appliedOp recorded it to
 * say the take was not applied.
 */
export function markApplied(ops: PgTable, op: string, taken: SQL): SQL {
  return sql`INSERT INTO ${ops} (op) SELECT ${op}::uuid FROM ${taken}`;
}

/**
 * A statement answering `applied` (true when `op` was recorded, so a take
 * whose answer was lost was made), which records it when it was not, so
 * the take can no longer be made later by a statement still on its way.
 */
export function appliedOp(ops: PgTable, op: string): SQL {
  return sql`WITH fenced AS (${firstApplying(ops, op)}) SELECT NOT EXISTS (SELECT 1 FROM fenced) AS applied`;
}

/** A statement deleting ops recorded more than `ageMs` ago: only operations tried again sooner are kept from applying twice. */
export function forgettingOps(ops: PgTable, ageMs: number): SQL {
  return sql`DELETE FROM ${ops} WHERE made_at < now() - ${`${ageMs} milliseconds`}::interval`;
}
