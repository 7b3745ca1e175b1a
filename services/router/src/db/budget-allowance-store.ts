import { and, eq, or, sql } from "drizzle-orm";
import {
  appliedOp,
  firstApplying,
  firstMaking,
  forgettingOps,
  markApplied,
  rowsOf,
  type AllowanceLedger,
  type Db,
  type SpendLedger,
  type SpendWrite,
} from "@gateway/common";
import { budgetAllowanceOps, budgetAllowances, budgetSpendWriters } from "./schema.js";

/** One budget period of a provider's or a deployment's budget. */
export interface BudgetRef {
  subject: string;
  windowStart: number;
}

const where = (ref: BudgetRef) => and(eq(budgetAllowances.subject, ref.subject), eq(budgetAllowances.windowStart, ref.windowStart));

/** What all router replicas together have taken of each budget period, and what its calls cost. One statement per method. */
export class BudgetAllowanceStore implements AllowanceLedger<BudgetRef>, SpendLedger<BudgetRef> {
  constructor(private readonly db: Db) {}

  idOf(ref: BudgetRef): string {
    return `${ref.subject}\u0000${ref.windowStart}`;
  }

  async take(ref: BudgetRef, amount: number, limit: number, op: string): Promise<number | undefined> {
    if (amount > limit) return undefined;
    const rows = rowsOf<{ granted: number }>(
      await this.db.execute(sql`
        WITH taken AS (
          INSERT INTO ${budgetAllowances} (subject, window_start, granted) VALUES (${ref.subject}, ${ref.windowStart}, ${amount})
          ON CONFLICT (subject, window_start) DO UPDATE SET granted = ${budgetAllowances}.granted + ${amount}
          WHERE ${budgetAllowances}.granted + ${amount} <= ${limit}
          RETURNING granted
        ), mark AS (${markApplied(budgetAllowanceOps, op, sql`taken`)})
        SELECT granted FROM taken`),
    );
    return rows[0]?.granted;
  }

  /** Only once per op, however often it is tried. */
  async charge(ref: BudgetRef, amount: number, op: string): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstApplying(budgetAllowanceOps, op)})
      INSERT INTO ${budgetAllowances} (subject, window_start, granted) SELECT ${ref.subject}, ${ref.windowStart}, ${amount} FROM first
      ON CONFLICT (subject, window_start) DO UPDATE SET granted = ${budgetAllowances}.granted + ${amount}`);
  }

  /** Only once per op, however often it is tried. */
  async giveBack(ref: BudgetRef, amount: number, op: string): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstApplying(budgetAllowanceOps, op)})
      UPDATE ${budgetAllowances} SET granted = GREATEST(0, granted - ${amount})
      WHERE subject = ${ref.subject} AND window_start = ${ref.windowStart} AND EXISTS (SELECT 1 FROM first)`);
  }

  async applied(op: string): Promise<boolean> {
    return rowsOf<{ applied: boolean }>(await this.db.execute(appliedOp(budgetAllowanceOps, op)))[0]?.applied === true;
  }

  /** Forgets old operations; budget windows stay (a provider's budget shows its window's spend). */
  async forgetOld(ageMs: number): Promise<void> {
    await this.db.execute(forgettingOps(budgetAllowanceOps, ageMs));
  }

  /** Only once per write, however often it is tried. */
  async addSpend(ref: BudgetRef, dollars: number, write: SpendWrite): Promise<void> {
    await this.db.execute(sql`
      WITH first AS (${firstMaking(budgetSpendWriters, write)})
      INSERT INTO ${budgetAllowances} (subject, window_start, spend) SELECT ${ref.subject}, ${ref.windowStart}, ${dollars} FROM first
      ON CONFLICT (subject, window_start) DO UPDATE SET spend = ${budgetAllowances}.spend + EXCLUDED.spend`);
  }

  async spend(refs: BudgetRef[]): Promise<number[]> {
    if (refs.length === 0) return [];
    const rows = await this.db
      .select({ subject: budgetAllowances.subject, windowStart: budgetAllowances.windowStart, spend: budgetAllowances.spend })
      .from(budgetAllowances)
      .where(or(...refs.map(where)));
    const byRef = new Map(rows.map((row) => [this.idOf(row), row.spend]));
    return refs.map((r) => byRef.get(this.idOf(r)) ?? 0);
  }
}
