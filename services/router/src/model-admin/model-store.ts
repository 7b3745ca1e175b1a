import { asc, eq } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { runtimeModels } from "../db/schema.js";

export type RuntimeModelRow = typeof runtimeModels.$inferSelect;

/** The runtime models in Postgres, shared by every router replica. */
export class ModelStore {
  constructor(private readonly db: Db) {}

  /** Oldest first, so the model list keeps a stable order across replicas. */
  all(): Promise<RuntimeModelRow[]> {
    return this.db.select().from(runtimeModels).orderBy(asc(runtimeModels.createdAt), asc(runtimeModels.id));
  }

  async add(row: Omit<RuntimeModelRow, "createdAt">): Promise<void> {
    await this.db.insert(runtimeModels).values(row);
  }

  /** True when there was such a model. */
  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(runtimeModels).where(eq(runtimeModels.id, id)).returning({ id: runtimeModels.id });
    return rows.length > 0;
  }
}
