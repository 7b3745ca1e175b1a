import { and, eq, or, sql } from "drizzle-orm";
import { firstMaking, type AllowanceLedger, type Db, type SpendLedger, type SpendWrite } from "@gateway/common";
import { budgetAllowances, budgetSpendWriters } from "./schema.js";

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

  async take(ref: BudgetRef, amount: number, limit: number): Promise<number | undefined> {
    if (amount > limit) return undefined;
    const rows = await this.db
      .insert(budgetAllowances)
      .values({ ...ref, granted: amount })
      .onConflictDoUpdate({
        target: [budgetAllowances.subject, budgetAllowances.windowStart],
        set: { granted: sql`${budgetAllowances.granted} + ${amount}` },
        setWhere: sql`${budgetAllowances.granted} + ${amount} <= ${limit}`,
      })
      .returning({ granted: budgetAllowances.granted });
    return rows[0]?.granted;
  }

  async charge(ref: BudgetRef, amount: number): Promise<void> {
    await this.db
      .insert(budgetAllowances)
      .values({ ...ref, granted: amount })
      .onConflictDoUpdate({ target: [budgetAllowances.subject, budgetAllowances.windowStart], set: { granted: sql`${budgetAllowances.granted} + ${amount}` } });
  }

  async giveBack(ref: BudgetRef, amount: number): Promise<void> {
    await this.db
      .update(budgetAllowances)
      .set({ granted: sql`GREATEST(0, ${budgetAllowances.granted} - ${amount})` })
      .where(where(ref));
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
