import { Code } from "@connectrpc/connect";
import { and, asc, count, countDistinct, desc, eq, inArray, isNotNull, or, sql, type SQL } from "drizzle-orm";
import { gatewayError, type Db } from "@gateway/common";
import { teams, virtualKeys } from "./db/schema.js";
import type { KeyRow } from "./key-record.js";

export type NewKeyRow = typeof virtualKeys.$inferInsert;
export type KeyPatch = Partial<Omit<NewKeyRow, "id" | "createdAt">>;

export interface KeyListFilter {
  userId?: string;
  teamId?: string;
  keyAlias?: string;
  /** Keys that name the organization, and keys of its teams. */
  organizationId?: string;
}

/** The columns /key/list sorts by, by LiteLLM's names ("token" is the hash). */
export const KEY_SORT_COLUMNS = {
  created_at: virtualKeys.createdAt,
  updated_at: virtualKeys.updatedAt,
  token: virtualKeys.keyHash,
  key_alias: virtualKeys.keyAlias,
  max_budget: virtualKeys.maxBudget,
} as const;

export interface KeyListOrder {
  by: keyof typeof KEY_SORT_COLUMNS;
  ascending: boolean;
}

/** A 400 for a key put in a team that does not exist. */
export function noSuchTeam(teamId: string): Error {
  return gatewayError(`team_id ${teamId} names no team; create it with /team/new first`, Code.InvalidArgument, { type: "invalid_request_error", param: "team_id" });
}

/** Virtual keys in Postgres. Only management calls and cache loads come here, never a model call. */
export class KeyStore {
  constructor(private readonly db: Db) {}

  /** The keys with a budget. */
  budgeted(): Promise<KeyRow[]> {
    return this.db.select().from(virtualKeys).where(isNotNull(virtualKeys.maxBudget));
  }

  /**
   * Runs a key's write in a transaction, with what must commit with it
   * (`alongside`, given the key as written, when it wrote one: its budget's
   * spend carried to a new window). A write that puts the key in team
   * `teamId` holds the team's row (FOR SHARE): a team deleted meanwhile
   * (TeamStore.delete locks its rows first) waits for the write and takes
   * the key with it, and one deleted first leaves the write to find no team
   * (a 400).
   */
  private writeKey(teamId: string | undefined, write: (tx: Db) => Promise<KeyRow | undefined>, alongside?: (tx: Db, row: KeyRow) => Promise<void>): Promise<KeyRow | undefined> {
    return this.db.transaction(async (tx) => {
      if (teamId) {
        const [team] = await tx.select({ id: teams.teamId }).from(teams).where(eq(teams.teamId, teamId)).for("share");
        if (!team) throw noSuchTeam(teamId);
      }
      const row = await write(tx);
      if (row) await alongside?.(tx, row);
      return row;
    });
  }

  async insert(row: NewKeyRow, alongside?: (tx: Db, row: KeyRow) => Promise<void>): Promise<KeyRow> {
    const inserted = await this.writeKey(row.teamId, async (tx) => (await tx.insert(virtualKeys).values(row).returning())[0], alongside);
    return inserted as KeyRow;
  }

  update(id: string, patch: KeyPatch, alongside: (tx: Db, row: KeyRow) => Promise<void>): Promise<KeyRow | undefined> {
    const write = async (tx: Db) => {
      const [row] = await tx
        .update(virtualKeys)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(virtualKeys.id, id))
        .returning();
      return row;
    };
    return this.writeKey(patch.teamId, write, alongside);
  }

  /**
   * Gives the key `id` a new hash, if it still has `oldHash` (the old one
   * joins previous_key_hashes in the same statement): of regenerations
   * racing from the same key, one changes it and the others find nothing.
   */
  rekey(id: string, oldHash: string, keyHash: string, keyName: string, patch: KeyPatch, alongside: (tx: Db, row: KeyRow) => Promise<void>): Promise<KeyRow | undefined> {
    const write = async (tx: Db) => {
      const [row] = await tx
        .update(virtualKeys)
        .set({ ...patch, keyHash, keyName, previousKeyHashes: sql`array_append(${virtualKeys.previousKeyHashes}, ${virtualKeys.keyHash})`, updatedAt: new Date() })
        .where(and(eq(virtualKeys.id, id), eq(virtualKeys.keyHash, oldHash)))
        .returning();
      return row;
    };
    return this.writeKey(patch.teamId, write, alongside);
  }

  async byHash(hash: string): Promise<KeyRow | undefined> {
    const [row] = await this.db.select().from(virtualKeys).where(eq(virtualKeys.keyHash, hash));
    return row;
  }

  async byAlias(alias: string): Promise<KeyRow | undefined> {
    const [row] = await this.db.select().from(virtualKeys).where(eq(virtualKeys.keyAlias, alias));
    return row;
  }

  async all(): Promise<KeyRow[]> {
    return this.db.select().from(virtualKeys);
  }

  /** A page of the keys the filter lists; the key's id breaks ties, so pages neither repeat nor skip a key. */
  async list(filter: KeyListFilter, order: KeyListOrder, offset: number, limit: number): Promise<{ rows: KeyRow[]; total: number }> {
    const conditions = this.conditions(filter);
    const where = conditions.length > 0 ? and(...conditions) : undefined;
    const direction = order.ascending ? asc : desc;
    const rows = await this.db
      .select()
      .from(virtualKeys)
      .where(where)
      .orderBy(direction(KEY_SORT_COLUMNS[order.by]), direction(virtualKeys.id))
      .offset(offset)
      .limit(limit);
    const [total] = await this.db.select({ n: count() }).from(virtualKeys).where(where);
    return { rows, total: total?.n ?? 0 };
  }

  private conditions(filter: KeyListFilter): SQL[] {
    const conditions: SQL[] = [];
    if (filter.userId) conditions.push(eq(virtualKeys.userId, filter.userId));
    if (filter.teamId) conditions.push(eq(virtualKeys.teamId, filter.teamId));
    if (filter.keyAlias) conditions.push(eq(virtualKeys.keyAlias, filter.keyAlias));
    if (filter.organizationId) {
      const itsTeams = this.db.select({ teamId: teams.teamId }).from(teams).where(eq(teams.organizationId, filter.organizationId));
      conditions.push(or(eq(virtualKeys.organizationId, filter.organizationId), inArray(virtualKeys.teamId, itsTeams))!);
    }
    return conditions;
  }

  /** The distinct aliases of the keys the filter lists, those containing `search` (any case) if given. */
  async aliases(filter: KeyListFilter, search: string, offset: number, limit: number): Promise<{ aliases: string[]; total: number }> {
    const conditions = [isNotNull(virtualKeys.keyAlias), ...this.conditions(filter)];
    if (search) conditions.push(sql`strpos(lower(${virtualKeys.keyAlias}), lower(${search})) > 0`);
    const where = and(...conditions);
    const rows = await this.db.selectDistinct({ alias: virtualKeys.keyAlias }).from(virtualKeys).where(where).orderBy(virtualKeys.keyAlias).offset(offset).limit(limit);
    const [total] = await this.db.select({ n: countDistinct(virtualKeys.keyAlias) }).from(virtualKeys).where(where);
    return { aliases: rows.map((r) => r.alias!), total: total?.n ?? 0 };
  }

  /**
   * Deletes the keys that still have these hashes (one regenerated since it
   * was read is not the key that was named), and makes `alongside`'s changes
   * (what they spent forgotten) in the same transaction.
   */
  async delete(hashes: string[], alongside: (tx: Db, deleted: KeyRow[]) => Promise<void>): Promise<KeyRow[]> {
    if (hashes.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const deleted = await tx.delete(virtualKeys).where(inArray(virtualKeys.keyHash, hashes)).returning();
      await alongside(tx, deleted);
      return deleted;
    });
  }
}
