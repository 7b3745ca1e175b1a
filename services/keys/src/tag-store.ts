import { eq, inArray } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { tags } from "./db/schema.js";
import type { TagRow } from "./tag-record.js";

export type NewTagRow = typeof tags.$inferInsert;
export type TagPatch = Partial<Omit<NewTagRow, "name" | "createdAt">>;

/** Tags in Postgres. Only management calls and cache loads come here, never a model call. */
export class TagStore {
  constructor(private readonly db: Db) {}

  async insert(row: NewTagRow): Promise<TagRow> {
    const [inserted] = await this.db.insert(tags).values(row).returning();
    return inserted as TagRow;
  }

  /** Changes a tag, and makes `alongside`'s changes (its budget's spend carried to a new window) in the same transaction. */
  update(name: string, patch: TagPatch, alongside: (tx: Db, row: TagRow) => Promise<void>): Promise<TagRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(tags)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(tags.name, name))
        .returning();
      if (row) await alongside(tx, row);
      return row;
    });
  }

  async byNames(names: string[]): Promise<TagRow[]> {
    return this.db.select().from(tags).where(inArray(tags.name, names));
  }

  async all(): Promise<TagRow[]> {
    return this.db.select().from(tags).orderBy(tags.createdAt, tags.name);
  }

  async delete(name: string): Promise<TagRow | undefined> {
    const [row] = await this.db.delete(tags).where(eq(tags.name, name)).returning();
    return row;
  }
}
