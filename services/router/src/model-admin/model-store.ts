import { asc, eq } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { runtimeModels } from "../db/schema.js";
import type { ParamSeal } from "./sealed-params.js";

export type RuntimeModelRow = typeof runtimeModels.$inferSelect;

/** The runtime models in Postgres, shared by every router replica; their secret parameters are kept sealed. */
export class ModelStore {
  constructor(
    private readonly db: Db,
    private readonly seal: ParamSeal,
  ) {}

  /** Oldest first, so the model list keeps a stable order across replicas; secrets still sealed (see `open`). */
  all(): Promise<RuntimeModelRow[]> {
    return this.db.select().from(runtimeModels).orderBy(asc(runtimeModels.createdAt), asc(runtimeModels.id));
  }

  /** A stored row with its secrets opened; throws a ConfigError when they were sealed under another key. */
  open(row: RuntimeModelRow): RuntimeModelRow {
    return { ...row, litellmParams: this.seal.open(row.litellmParams) };
  }

  /**
   * Seals the secrets that rows stored before sealing still hold in plain
   * text. Every replica does this at start; two doing it at once each write
   * a sealed value, and either one opens.
   */
  async sealStored(): Promise<number> {
    const plain = (await this.all()).filter((row) => this.seal.unsealed(row.litellmParams));
    for (const row of plain) await this.db.update(runtimeModels).set({ litellmParams: this.seal.seal(row.litellmParams) }).where(eq(runtimeModels.id, row.id));
    return plain.length;
  }

  async add(row: Omit<RuntimeModelRow, "createdAt">): Promise<void> {
    await this.db.insert(runtimeModels).values({ ...row, litellmParams: this.seal.seal(row.litellmParams) });
  }

  /**
   * Replaces a stored model by what `change` makes of it (secrets opened),
   * the row locked meanwhile, so that changes made at once on several
   * replicas all apply. False when there is no such model; whatever
   * `change` throws leaves the row as it was.
   */
  async update(id: string, change: (row: RuntimeModelRow) => Omit<RuntimeModelRow, "id" | "createdAt">): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(runtimeModels).where(eq(runtimeModels.id, id)).for("update");
      if (!row) return false;
      const changed = change(this.open(row));
      await tx
        .update(runtimeModels)
        .set({ ...changed, litellmParams: this.seal.seal(changed.litellmParams) })
        .where(eq(runtimeModels.id, id));
      return true;
    });
  }

  /** True when there was such a model. */
  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(runtimeModels).where(eq(runtimeModels.id, id)).returning({ id: runtimeModels.id });
    return rows.length > 0;
  }
}
