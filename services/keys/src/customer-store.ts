import { eq, inArray, sql } from "drizzle-orm";
import type { Db } from "@gateway/common";
import type { BudgetStore } from "./budget-store.js";
import type { CustomerRow } from "./customer-record.js";
import { customers } from "./db/schema.js";

export type NewCustomerRow = typeof customers.$inferInsert;
export type CustomerPatch = Partial<Omit<NewCustomerRow, "userId" | "createdAt">>;

/**
 * Customers in Postgres, each read with the limits in force (its budget's
 * filling in what it leaves unset). Only management calls and cache loads
 * come here, never a model call.
 */
export class CustomerStore {
  constructor(
    private readonly db: Db,
    private readonly budgets: BudgetStore,
  ) {}

  async insert(row: NewCustomerRow): Promise<CustomerRow> {
    const [inserted] = await this.db.insert(customers).values(row).returning();
    return (await this.budgets.oneInForce(inserted)) as CustomerRow;
  }

  /**
   * Changes a customer, and makes `alongside`'s changes (its budget's spend
   * carried to a new window), given the customer with the limits in force,
   * in the same transaction (which reads its budget too: on the embedded
   * database it holds the one connection).
   */
  update(userId: string, patch: CustomerPatch, alongside: (tx: Db, row: CustomerRow) => Promise<void>): Promise<CustomerRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(customers)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(customers.userId, userId))
        .returning();
      const row = await this.budgets.in(tx).oneInForce(updated);
      if (row) await alongside(tx, row);
      return row;
    });
  }

  /** Blocks or unblocks the customers, making those not yet known (blocked, as LiteLLM's /customer/block does). */
  async setBlocked(userIds: string[], blocked: boolean): Promise<CustomerRow[]> {
    if (!blocked) {
      return this.budgets.inForce(await this.db.update(customers).set({ blocked, updatedAt: new Date() }).where(inArray(customers.userId, userIds)).returning());
    }
    const rows = await this.db
      .insert(customers)
      .values(userIds.map((userId) => ({ userId, blocked })))
      .onConflictDoUpdate({ target: customers.userId, set: { blocked: sql`excluded.blocked`, updatedAt: new Date() } })
      .returning();
    return this.budgets.inForce(rows);
  }

  async byId(userId: string): Promise<CustomerRow | undefined> {
    const [row] = await this.db.select().from(customers).where(eq(customers.userId, userId));
    return this.budgets.oneInForce(row);
  }

  /** Every customer, or only those that name `budgetId` as their budget. */
  async all(budgetId = ""): Promise<CustomerRow[]> {
    const onBudget = budgetId === "" ? undefined : eq(customers.budgetId, budgetId);
    return this.budgets.inForce(await this.db.select().from(customers).where(onBudget).orderBy(customers.createdAt, customers.userId));
  }

  async byIds(userIds: string[]): Promise<CustomerRow[]> {
    if (userIds.length === 0) return [];
    return this.budgets.inForce(await this.db.select().from(customers).where(inArray(customers.userId, userIds)));
  }

  async delete(userIds: string[]): Promise<CustomerRow[]> {
    return this.budgets.inForce(await this.db.delete(customers).where(inArray(customers.userId, userIds)).returning());
  }
}
