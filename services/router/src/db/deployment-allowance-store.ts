import { lt, sql } from "drizzle-orm";
import { appliedOp, firstApplying, forgettingOps, markApplied, rowsOf, type AllowanceLedger, type Db } from "@gateway/common";
import { budgetAllowanceOps, deploymentAllowances } from "./schema.js";

export type AllowanceKind = (typeof deploymentAllowances.kind.enumValues)[number];

export interface AllowanceRef {
  deploymentId: string;
  kind: AllowanceKind;
  windowStart: number;
}

// Operations are recorded with the budget leases' (op ids are UUIDs, so the
// two never meet), and forgotten by both stores' Allowances.
const ops = budgetAllowanceOps;

// Finished minutes' rows are of use to no one: those that started over an
// hour ago are deleted (a table otherwise gaining a row per deployment, kind
// and minute for good).
const MINUTES_KEPT_MS = 60 * 60_000;

/**
 * What all router replicas together have taken of each deployment's rpm and
 * tpm, per minute. One statement per method; takes, charges and give-backs
 * carry an operation id, recorded with them (allowance-ops.ts in common).
 */
export class DeploymentAllowanceStore implements AllowanceLedger<AllowanceRef> {
  constructor(private readonly db: Db) {}

  idOf(ref: AllowanceRef): string {
    return `${ref.deploymentId}\u0000${ref.kind}\u0000${ref.windowStart}`;
  }

  async take(ref: AllowanceRef, amount: number, limit: number, op: string): Promise<number | undefined> {
    if (amount > limit) return undefined;
    const rows = rowsOf<{ granted: number }>(
      await this.db.execute(sql`
        WITH taken AS (
          INSERT INTO ${deploymentAllowances} (deployment_id, kind, window_start, granted) VALUES (${ref.deploymentId}, ${ref.kind}, ${ref.windowStart}, ${amount})
          ON CONFLICT (deployment_id, kind, window_start) DO UPDATE SET granted = ${deploymentAllowances}.granted + ${amount}
          WHERE ${deploymentAllowances}.granted + ${amount} <= ${limit}
          RETURNING granted
        ), mark AS (${markApplied(ops, op, sql`taken`)})
        SELECT granted FROM taken`),
    );
    return rows[0]?.granted;
  }

  /** Only once per op, however often it is tried. */
  async charge(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstApplying(ops, op)})
      INSERT INTO ${deploymentAllowances} (deployment_id, kind, window_start, granted) SELECT ${ref.deploymentId}, ${ref.kind}, ${ref.windowStart}, ${amount} FROM first
      ON CONFLICT (deployment_id, kind, window_start) DO UPDATE SET granted = ${deploymentAllowances}.granted + ${amount}`);
  }

  /** Only once per op, however often it is tried. */
  async giveBack(ref: AllowanceRef, amount: number, op: string): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstApplying(ops, op)})
      UPDATE ${deploymentAllowances} SET granted = GREATEST(0, granted - ${amount})
      WHERE deployment_id = ${ref.deploymentId} AND kind = ${ref.kind} AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM first)`);
  }

  async applied(op: string): Promise<boolean> {
    return rowsOf<{ applied: boolean }>(await this.db.execute(appliedOp(ops, op)))[0]?.applied === true;
  }

  /** Forgets old operations, and the minutes that started over an hour before `now` (whatever `ageMs`: nothing reads a minute once it is over). */
  async forgetOld(ageMs: number, now = Date.now()): Promise<void> {
    await this.db.execute(forgettingOps(ops, ageMs));
    await this.db.delete(deploymentAllowances).where(lt(deploymentAllowances.windowStart, now - MINUTES_KEPT_MS));
  }
}
