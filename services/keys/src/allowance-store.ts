import { and, eq, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import {
  appliedOp,
  firstApplying,
  firstMaking,
  forgettingOps,
  markApplied,
  NANO,
  rowsOf,
  type AllowanceLedger,
  type Db,
  type SpendLedger,
  type SpendWrite,
} from "@gateway/common";
import { allowanceOps, allowances, parallelHolds, spendWriters } from "./db/schema.js";

export type AllowanceKind = (typeof allowances.kind.enumValues)[number];

export interface AllowanceRef {
  keyId: string;
  kind: AllowanceKind;
  windowStart: number;
}

/** How many holders (forgetHolders) or windows (carryEverySpend) one statement names: a few parameters each, far below Postgres's 65,535. */
const PER_STATEMENT = 1000;

/** One string per allowance row, for maps. */
export const refId = (ref: AllowanceRef) => `${ref.keyId}\u0000${ref.kind}\u0000${ref.windowStart}`;

/**
 * A statement's part that makes the same change to what a budget window
 * holds (`granted`) in the window it moved to (the `carried_to` of the rows
 * of the WITH clause `changed`, null when it has not moved): see
 * moveSpend.
 */
function forwardGranted(ref: AllowanceRef, changed: SQL, amount: number): SQL {
  return sql`, forwarded AS (${forwarding(ref, changed, { granted: Math.max(0, amount), spend: 0 }, sql`granted = GREATEST(0, ${allowances}.granted + ${amount})`)})`;
}

/**
 * An upsert, not an UPDATE, of the window moved to: a change that waited
 * on the old window's row while a move held it goes on once the move
 * commits, and reads the move's carried_to (Postgres reads the row again),
 * but its statement's snapshot, taken before, cannot see the window the
 * move made; an UPDATE of it matched nothing, and the change missed the
 * new window. ON CONFLICT finds the committed row all the same, and
 * changes it, in READ COMMITTED. The move makes that window in the
 * statement that sets carried_to, and only a delete of all the holder's
 * windows takes it away, so the insert (`inserted`: the change made to an
 * empty window) is there for the statement's syntax.
 */
function forwarding(ref: AllowanceRef, changed: SQL, inserted: { granted: number; spend: number }, set: SQL): SQL {
  return sql`INSERT INTO ${allowances} (key_id, kind, window_start, granted, spend)
    SELECT ${ref.keyId}, ${ref.kind}, carried_to, ${inserted.granted}, ${inserted.spend} FROM ${changed} WHERE carried_to IS NOT NULL
    ON CONFLICT (key_id, kind, window_start) DO UPDATE SET ${set}`;
}

/**
 * A move's part that starts the window moved to from the rows of the WITH
 * clause `moved` (the old windows' holders, what each held and spent), the
 * window's own where it is there: see moveSpend.
 */
function startingWindow(kind: AllowanceKind, toWindowStart: number): SQL {
  return sql`INSERT INTO ${allowances} (key_id, kind, window_start, granted, spend)
    SELECT key_id, ${kind}, ${toWindowStart}, granted, spend FROM moved
    ON CONFLICT (key_id, kind, window_start) DO UPDATE SET
      granted = GREATEST(${allowances}.granted, EXCLUDED.granted),
      spend = GREATEST(${allowances}.spend, EXCLUDED.spend),
      carried_to = NULL`;
}

/**
 * The shared side of every limit: how much all replicas together have taken
 * per key, kind and window. Each method is one atomic statement.
 */
export class AllowanceStore implements AllowanceLedger<AllowanceRef>, SpendLedger<AllowanceRef> {
  constructor(
    private readonly db: Db,
    /** This replica, whose part of parallel-slot allowances is recorded (parallel_holds) so it can be given back should it die. */
    private readonly holder: string,
  ) {}

  /** This store in a transaction of the caller's (`tx`): its changes commit, or not, with the caller's. */
  in(tx: Db): AllowanceStore {
    return new AllowanceStore(tx, this.holder);
  }

  idOf(ref: AllowanceRef): string {
    return refId(ref);
  }

  /**
   * Takes `amount` if the total stays within `limit`, recording `op` when it
   * does; returns the new total, or undefined when it would not fit (nothing
   * taken). A take from a budget window that moved (carried_to) is made in
   * the window it moved to, against that window's total: a replica that has
   * not heard of the move yet still names the old window, whose own total
   * misses what the new one took since (checked there, $5 of a $10 budget
   * fitted where the new window held $9). Only a take that waited on the
   * move itself is refused: its snapshot, taken before, cannot see where
   * the window went; the replica's next take finds it.
   */
  async take(ref: AllowanceRef, amount: number, limit: number, op: string): Promise<number | undefined> {
    if (amount > limit) return undefined;
    if (ref.kind === "parallel") return this.takeParallel(ref, amount, limit, op);
    const rows = rowsOf<{ granted: number }>(
      await this.db.execute(sql`
        WITH target AS (
          SELECT COALESCE(
            (SELECT carried_to FROM ${allowances} WHERE key_id = ${ref.keyId} AND kind = ${ref.kind} AND window_start = ${ref.windowStart}),
            ${ref.windowStart}
          ) AS window_start
        ), taken AS (
          INSERT INTO ${allowances} (key_id, kind, window_start, granted) SELECT ${ref.keyId}, ${ref.kind}, window_start, ${amount} FROM target
          ON CONFLICT (key_id, kind, window_start) DO UPDATE SET granted = ${allowances}.granted + ${amount}
          WHERE ${allowances}.granted + ${amount} <= ${limit} AND ${allowances}.carried_to IS NULL
          RETURNING granted
        ), mark AS (${markApplied(allowanceOps, op, sql`taken`)})
        SELECT granted FROM taken`),
    );
    return rows[0]?.granted;
  }

  /**
   * take() for parallel slots, and their charge() (`limit` undefined:
   * whatever the limit, once per `op`): the total and this replica's part
   * move together, in one statement.
   */
  private async takeParallel(ref: AllowanceRef, amount: number, limit: number | undefined, op: string): Promise<number | undefined> {
    const charging = limit === undefined;
    const rows = rowsOf<{ granted: number }>(
      await this.db.execute(sql`
        WITH first AS (${charging ? firstApplying(allowanceOps, op) : sql`SELECT 1`}), taken AS (
          INSERT INTO ${allowances} (key_id, kind, window_start, granted) SELECT ${ref.keyId}, 'parallel', ${ref.windowStart}, ${amount} FROM first
          ON CONFLICT (key_id, kind, window_start) DO UPDATE SET granted = ${allowances}.granted + ${amount}
          ${charging ? sql`` : sql`WHERE ${allowances}.granted + ${amount} <= ${limit}`}
          RETURNING granted
        ), part AS (
          INSERT INTO ${parallelHolds} (holder, key_id, held) SELECT ${this.holder}, ${ref.keyId}, ${amount} FROM taken
          ON CONFLICT (holder, key_id) DO UPDATE SET held = ${parallelHolds}.held + ${amount}
        )${charging ? sql`` : sql`, mark AS (${markApplied(allowanceOps, op, sql`taken`)})`}
        SELECT granted FROM taken`),
    );
    return rows[0]?.granted;
  }

  /**
   * giveBack() for parallel slots: only what this replica's part still
   * holds (none once it was taken for dead and its part given back for it).
   * The total's row is locked before the part's, as takeParallel locks
   * them: the other way round, a give-back and a take of the same key on
   * one replica (a burst while it gave back what it held unused) each held
   * the row the other waited for, and Postgres ended one as a deadlock
   * after a second (a request answered 500).
   */
  private async giveBackParallel(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstApplying(allowanceOps, op)}), total AS (
        SELECT 1 FROM ${allowances}
        WHERE key_id = ${ref.keyId} AND kind = 'parallel' AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM first)
        FOR UPDATE
      ), part AS (
        UPDATE ${parallelHolds} SET held = GREATEST(0, held - ${amount})
        WHERE holder = ${this.holder} AND key_id = ${ref.keyId} AND EXISTS (SELECT 1 FROM total)
        RETURNING 1
      )
      UPDATE ${allowances} SET granted = GREATEST(0, granted - ${amount})
      WHERE key_id = ${ref.keyId} AND kind = 'parallel' AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM part)`);
  }

  /** Adds `amount` whatever the limit: usage that already happened must be counted. Only once per `op`. */
  async charge(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    if (ref.kind === "parallel") {
      await this.takeParallel(ref, amount, undefined, op);
      return;
    }
    await this.db.execute(sql`
      WITH first AS (${firstApplying(allowanceOps, op)}), charged AS (
        INSERT INTO ${allowances} (key_id, kind, window_start, granted) SELECT ${ref.keyId}, ${ref.kind}, ${ref.windowStart}, ${amount} FROM first
        ON CONFLICT (key_id, kind, window_start) DO UPDATE SET granted = ${allowances}.granted + ${amount}
        RETURNING carried_to
      )${forwardGranted(ref, sql`charged`, amount)}
      SELECT 1`);
  }

  /** Gives back what a replica took and did not use. Only once per `op`. */
  async giveBack(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    if (ref.kind === "parallel") return this.giveBackParallel(ref, amount, op);
    await this.db.execute(sql`
      WITH first AS (${firstApplying(allowanceOps, op)}), given AS (
        UPDATE ${allowances} SET granted = GREATEST(0, granted - ${amount})
        WHERE key_id = ${ref.keyId} AND kind = ${ref.kind} AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM first)
        RETURNING carried_to
      )${forwardGranted(ref, sql`given`, -amount)}
      SELECT 1`);
  }

  async applied(op: string): Promise<boolean> {
    return rowsOf<{ applied: boolean }>(await this.db.execute(appliedOp(allowanceOps, op)))[0]?.applied === true;
  }

  /**
   * Forgets old operations, and rpm and tpm windows (a minute each) that
   * started more than `ageMs` ago: a key under a limit leaves a row a minute,
   * which nothing reads once its minute is over. Budget windows stay: their
   * spend is what /key/info and the like show.
   */
  async forgetOld(ageMs: number, now = Date.now()): Promise<void> {
    await this.db.execute(forgettingOps(allowanceOps, ageMs));
    await this.db.delete(allowances).where(and(inArray(allowances.kind, ["requests", "tokens"]), lt(allowances.windowStart, now - ageMs)));
  }

  async total(ref: AllowanceRef): Promise<number> {
    const [row] = await this.db
      .select({ granted: allowances.granted })
      .from(allowances)
      .where(and(eq(allowances.keyId, ref.keyId), eq(allowances.kind, ref.kind), eq(allowances.windowStart, ref.windowStart)));
    return row?.granted ?? 0;
  }

  /**
   * Adds to a budget window's spend (its row exists since the first
   * reservation took from it), and, when the holder's budget has moved to
   * another window since, to that window's spend, in the same statement:
   * requests admitted before the move settle after it. (What they hold
   * moved with the window, and what is given back follows: forwardGranted.)
   * Only once per write, however often it is tried.
   */
  async addSpend(ref: AllowanceRef, dollars: number, write: SpendWrite): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstMaking(spendWriters, write)}), settled AS (
        UPDATE ${allowances} SET spend = spend + ${dollars}
        WHERE key_id = ${ref.keyId} AND kind = ${ref.kind} AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM first)
        RETURNING carried_to
      )
      ${forwarding(ref, sql`settled`, { granted: 0, spend: dollars }, sql`spend = ${allowances}.spend + ${dollars}`)}`);
  }

  /**
   * Moves a budget to another of its windows (its budget period changed): the new
   * window starts from the old one's spend and everything the old one holds
   * (reservations of requests in flight, replicas' unused takes), and every
   * later change to the old one is made to the new one too (spend, charges,
   * what is given back; takes go there instead: see take), as for windows that had
   * moved to the old one. One statement, so a change lands before the move
   * or is forwarded.
   * A window moved to again keeps the larger of its own and the old one's.
   * The old window's row is made (nothing held, nothing spent) where the
   * holder had taken nothing there: replicas that have not yet heard of the
   * new period still take from it and settle there, and a row they made
   * would forward nothing. An upsert, not an UPDATE, for the same reason as
   * forwarding's: it finds a first take's row committed after the
   * statement's snapshot, and moves what it took.
   */
  async moveSpend(from: AllowanceRef, toWindowStart: number): Promise<void> {
    // The row made would be carried to itself, and every write to it made twice.
    if (from.windowStart === toWindowStart) return;
    await this.db.execute(sql`
      WITH moved AS (
        INSERT INTO ${allowances} (key_id, kind, window_start, carried_to) VALUES (${from.keyId}, ${from.kind}, ${from.windowStart}, ${toWindowStart})
        ON CONFLICT (key_id, kind, window_start) DO UPDATE SET carried_to = EXCLUDED.carried_to
        RETURNING key_id, granted, spend
      ), chained AS (
        UPDATE ${allowances} SET carried_to = ${toWindowStart}
        WHERE key_id = ${from.keyId} AND kind = ${from.kind} AND window_start <> ${toWindowStart} AND carried_to = ${from.windowStart}
      )
      ${startingWindow(from.kind, toWindowStart)}`);
  }

  /**
   * moveSpend for every holder whose allowance id is like `keyIdLike` (a
   * LIKE pattern), each its own budget: the end users held to the default
   * budget, whose period is one for them all, say. Only holders with a row
   * in the old window move: the others cannot be named, so one that first
   * takes from the old window on a replica that has not yet heard of the
   * new period (or commits its first take there after this statement's
   * snapshot) keeps that window's spend out of the new one.
   */
  async moveEverySpend(keyIdLike: string, kind: AllowanceKind, fromWindowStart: number, toWindowStart: number): Promise<void> {
    await this.db.execute(sql`
      WITH carried AS (
        UPDATE ${allowances} SET carried_to = ${toWindowStart}
        WHERE key_id LIKE ${keyIdLike} AND kind = ${kind} AND window_start <> ${toWindowStart}
          AND (window_start = ${fromWindowStart} OR carried_to = ${fromWindowStart})
        RETURNING key_id, window_start, granted, spend
      ), moved AS (SELECT * FROM carried WHERE window_start = ${fromWindowStart})
      ${startingWindow(kind, toWindowStart)}`);
  }

  /**
   * Starts a budget window from spend made before it existed (a budget set
   * on a key that had none, or another budget period): it shows at least
   * `dollars` spent, and holds as much more of the limit as that adds.
   */
  async carrySpend(ref: AllowanceRef, dollars: number): Promise<void> {
    await this.carryEverySpend([{ ref, dollars }]);
  }

  /** carrySpend for many windows (each named once), a thousand a statement: every end user held to the default budget, say. */
  async carryEverySpend(carried: readonly { ref: AllowanceRef; dollars: number }[]): Promise<void> {
    for (let i = 0; i < carried.length; i += PER_STATEMENT) {
      const batch = carried.slice(i, i + PER_STATEMENT);
      await this.db
        .insert(allowances)
        .values(batch.map(({ ref, dollars }) => ({ ...ref, granted: Math.ceil(dollars * NANO), spend: dollars })))
        .onConflictDoUpdate({
          target: [allowances.keyId, allowances.kind, allowances.windowStart],
          set: {
            granted: sql`${allowances.granted} + GREATEST(0, excluded.granted - CEIL(${allowances.spend} * ${NANO}))`,
            spend: sql`GREATEST(${allowances.spend}, excluded.spend)`,
          },
        });
    }
  }

  /**
   * Sets a budget window's spend (LiteLLM's `spend` on /key/update): what
   * the window holds besides its spend (reservations, replicas' unused
   * takes) stays held, so the room the budget leaves moves by the change.
   */
  async setSpend(ref: AllowanceRef, dollars: number): Promise<void> {
    await this.upsertSpend(ref, dollars, {
      granted: sql`GREATEST(0, ${allowances.granted} + ${Math.ceil(dollars * NANO)} - CEIL(${allowances.spend} * ${NANO}))`,
      spend: sql`${dollars}`,
    });
  }

  /** A budget window made at `dollars` spent (and as much granted), or, when it exists, changed as `set` says. */
  private async upsertSpend(ref: AllowanceRef, dollars: number, set: { granted: SQL; spend: SQL }): Promise<void> {
    await this.db
      .insert(allowances)
      .values({ ...ref, granted: Math.ceil(dollars * NANO), spend: dollars })
      .onConflictDoUpdate({ target: [allowances.keyId, allowances.kind, allowances.windowStart], set });
  }

  /** The spend of each window, in the order asked; 0 for a window nothing was taken from. */
  async spend(refs: AllowanceRef[]): Promise<number[]> {
    if (refs.length === 0) return [];
    const rows = await this.db
      .select({ keyId: allowances.keyId, kind: allowances.kind, windowStart: allowances.windowStart, spend: allowances.spend })
      .from(allowances)
      .where(or(...refs.map((r) => and(eq(allowances.keyId, r.keyId), eq(allowances.kind, r.kind), eq(allowances.windowStart, r.windowStart)))));
    const byRef = new Map(rows.map((row) => [refId(row), row.spend]));
    return refs.map((r) => byRef.get(refId(r)) ?? 0);
  }

  async forget(keyIds: string[]): Promise<void> {
    for (const keyId of keyIds) await this.db.delete(allowances).where(eq(allowances.keyId, keyId));
  }

  /**
   * Forgets the allowances of deleted holders and every one derived from
   * theirs (their members' and models': the holder's id, "/" and more), a
   * batch of holders a statement, so as many as are deleted stay within a
   * statement's parameters. Each statement reads the whole table (no index
   * serves starts_with), which deletes, rare and made by admins, can afford.
   */
  async forgetHolders(keyIds: string[]): Promise<void> {
    for (let i = 0; i < keyIds.length; i += PER_STATEMENT) {
      const batch = keyIds.slice(i, i + PER_STATEMENT);
      await this.db.delete(allowances).where(or(inArray(allowances.keyId, batch), ...batch.map((keyId) => sql`starts_with(${allowances.keyId}, ${`${keyId}/`})`)));
    }
  }
}
