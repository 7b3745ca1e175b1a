import { eq, inArray } from "drizzle-orm";
import type { Db } from "@gateway/common";
import type { CustomerRow } from "./customer-record.js";
import { budgets, customers, organizations } from "./db/schema.js";
import type { LimitColumns } from "./limit-holder.js";
import type { OrganizationRow } from "./organization-record.js";

export type BudgetRow = typeof budgets.$inferSelect;
export type NewBudgetRow = typeof budgets.$inferInsert;
export type BudgetPatch = Partial<Omit<NewBudgetRow, "budgetId" | "createdAt">>;

/** A row that may name a budget (a customer, an organization). */
type Budgeted = LimitColumns & { budgetId: string | null };

/**
 * A row's limits in force: its own, and for each it leaves unset, its
 * budget's (when it names one).
 */
function inForce<R extends Budgeted>(row: R, budget: BudgetRow | undefined): R {
  if (!budget) return row;
  return {
    ...row,
    maxBudget: row.maxBudget ?? budget.maxBudget,
    budgetDuration: row.budgetDuration || budget.budgetDuration,
    rpmLimit: row.rpmLimit ?? budget.rpmLimit,
    tpmLimit: row.tpmLimit ?? budget.tpmLimit,
    maxParallelRequests: row.maxParallelRequests ?? budget.maxParallelRequests,
  };
}

/** A row naming a budget, with its limits in force before and after the budget's change. */
export interface InForceChange<R> {
  before: R;
  after: R;
}

/** What a budget's change changed: the budget itself, and the customers and organizations naming it. */
export interface BudgetChange {
  budget: InForceChange<BudgetRow>;
  customers: InForceChange<CustomerRow>[];
  organizations: InForceChange<OrganizationRow>[];
}

/** Budgets (pricing tiers) in Postgres. Only management calls and cache loads come here, never a model call. */
export class BudgetStore {
  constructor(private readonly db: Db) {}

  /** This store in a transaction of the caller's (`tx`), which reads through it. */
  in(tx: Db): BudgetStore {
    return new BudgetStore(tx);
  }

  /** Makes a budget, and `alongside`'s changes (the default end-user budget's spend carried) in the same transaction. */
  insert(row: NewBudgetRow, alongside: (tx: Db, row: BudgetRow) => Promise<void>): Promise<BudgetRow> {
    return this.db.transaction(async (tx) => {
      const [inserted] = await tx.insert(budgets).values(row).returning();
      await alongside(tx, inserted as BudgetRow);
      return inserted as BudgetRow;
    });
  }

  /**
   * Changes a budget, and makes `alongside`'s changes (the spend of the
   * customers and organizations naming it carried to new windows), given
   * those rows with the limits in force before and after, in the same
   * transaction; the budget is locked first, so no other change of it comes
   * between what is read and what is written.
   */
  update(budgetId: string, patch: BudgetPatch, alongside: (tx: Db, change: BudgetChange) => Promise<void>): Promise<BudgetRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(budgets).where(eq(budgets.budgetId, budgetId)).for("no key update");
      if (!before) return undefined;
      const [after] = await tx
        .update(budgets)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(budgets.budgetId, budgetId))
        .returning();
      if (!after) return undefined;
      const change = <R extends Budgeted>(rows: R[]) => rows.map((row) => ({ before: inForce(row, before), after: inForce(row, after) }));
      await alongside(tx, {
        budget: { before, after },
        customers: change(await tx.select().from(customers).where(eq(customers.budgetId, budgetId))),
        organizations: change(await tx.select().from(organizations).where(eq(organizations.budgetId, budgetId))),
      });
      return after;
    });
  }

  async byIds(budgetIds: string[]): Promise<BudgetRow[]> {
    return budgetIds.length === 0 ? [] : this.db.select().from(budgets).where(inArray(budgets.budgetId, budgetIds));
  }

  /** inForce for one row, or none. */
  async oneInForce<R extends Budgeted>(row: R | undefined): Promise<R | undefined> {
    return row && (await this.inForce([row]))[0];
  }

  /** The rows with the limits in force, their budgets filling in what they leave unset. */
  async inForce<R extends Budgeted>(rows: R[]): Promise<R[]> {
    const named = [...new Set(rows.flatMap((row) => (row.budgetId === null ? [] : [row.budgetId])))];
    const byId = new Map((await this.byIds(named)).map((b) => [b.budgetId, b]));
    return rows.map((row) => inForce(row, row.budgetId === null ? undefined : byId.get(row.budgetId)));
  }

  async all(): Promise<BudgetRow[]> {
    return this.db.select().from(budgets).orderBy(budgets.createdAt, budgets.budgetId);
  }

  async delete(budgetId: string): Promise<BudgetRow | undefined> {
    const [row] = await this.db.delete(budgets).where(eq(budgets.budgetId, budgetId)).returning();
    return row;
  }
}
