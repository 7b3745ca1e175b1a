import { sql, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

// The statements below work on a table of applied allowance operations
// (op uuid primary key, made_at timestamptz not null default now(), fence
// boolean not null default false: true when appliedOp recorded it), one per
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
 * it the take, when the op is already recorded: appliedOp recorded it (as
 * a fence) to say the take was not applied.
 */
export function markApplied(ops: PgTable, op: string, taken: SQL): SQL {
  return sql`INSERT INTO ${ops} (op) SELECT ${op}::uuid FROM ${taken}`;
}

/**
 * A statement answering `applied` (true when `op` was recorded by its take,
 * so a take whose answer was lost was made), which records it as a fence
 * (`fence` true) when it was not, so the take can no longer be made later
 * by a statement still on its way. The row it finds tells who recorded it:
 * asked again after its own answer was lost, it finds its fence and still
 * answers "not made" (answering "made" from any recorded op, it had the
 * replica hold a take the store never made, and give it back later: the
 * store then counted less than the replicas held). A take or question
 * still in flight holds the row uncommitted; the upsert waits for it and
 * reads the row it committed.
 */
export function appliedOp(ops: PgTable, op: string): SQL {
  return sql`INSERT INTO ${ops} (op, fence) VALUES (${op}::uuid, true) ON CONFLICT (op) DO UPDATE SET fence = ${ops}.fence RETURNING NOT fence AS applied`;
}

/** A statement deleting ops recorded more than `ageMs` ago: only operations tried again sooner are kept from applying twice. */
export function forgettingOps(ops: PgTable, ageMs: number): SQL {
  return sql`DELETE FROM ${ops} WHERE made_at < now() - ${`${ageMs} milliseconds`}::interval`;
}
