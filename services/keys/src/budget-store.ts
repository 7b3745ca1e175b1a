import { eq, inArray } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { budgets } from "./db/schema.js";

export type BudgetRow = typeof budgets.$inferSelect;
export type NewBudgetRow = typeof budgets.$inferInsert;
export type BudgetPatch = Partial<Omit<NewBudgetRow, "budgetId" | "createdAt">>;

/** Budgets (pricing tiers) in Postgres. Only management calls and cache loads come here, never a model call. */
export class BudgetStore {
  constructor(private readonly db: Db) {}

  async insert(row: NewBudgetRow): Promise<BudgetRow> {
    const [inserted] = await this.db.insert(budgets).values(row).returning();
    return inserted as BudgetRow;
  }

  async update(budgetId: string, patch: BudgetPatch): Promise<BudgetRow | undefined> {
    const [row] = await this.db
      .update(budgets)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(budgets.budgetId, budgetId))
      .returning();
    return row;
  }

  async byIds(budgetIds: string[]): Promise<BudgetRow[]> {
    return budgetIds.length === 0 ? [] : this.db.select().from(budgets).where(inArray(budgets.budgetId, budgetIds));
  }

  async all(): Promise<BudgetRow[]> {
    return this.db.select().from(budgets).orderBy(budgets.createdAt, budgets.budgetId);
  }

  async delete(budgetId: string): Promise<BudgetRow | undefined> {
    const [row] = await this.db.delete(budgets).where(eq(budgets.budgetId, budgetId)).returning();
    return row;
  }
}
