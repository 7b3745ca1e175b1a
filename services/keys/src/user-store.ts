import { and, count, desc, eq, ilike, inArray, sql, type AnyColumn, type SQL } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { organizations, teams, users, virtualKeys } from "./db/schema.js";
import type { KeyRow } from "./key-record.js";
import type { NewKeyRow } from "./key-store.js";
import type { OrganizationRow } from "./organization-record.js";
import type { TeamRow } from "./team-record.js";
import type { UserRow } from "./user-record.js";

export type NewUserRow = typeof users.$inferInsert;
export type UserPatch = Partial<Omit<NewUserRow, "userId" | "createdAt">>;

export interface UserListFilter {
  userIds: string[];
  userRole: string;
  /** Text the email contains, in any case. */
  userEmail: string;
  teamId: string;
}

/**
 * What UserStore.delete deleted: the users and their keys, and the teams and
 * organizations they were taken out of, with their members as they were
 * (the users' memberships among them, whose allowances are named by when
 * each began).
 */
export interface DeletedUsers {
  users: UserRow[];
  keys: KeyRow[];
  teams: Pick<TeamRow, "teamId" | "createdAt" | "membersWithRoles">[];
  organizations: Pick<OrganizationRow, "organizationId" | "createdAt" | "members">[];
}

/** A team's members_with_roles holds a member with this user_id. */
const namesMember = (userId: SQL | string) => sql`${teams.membersWithRoles} @> jsonb_build_array(jsonb_build_object('user_id', ${userId}::text))`;

/** Users in Postgres. Only management calls and cache loads come here, never a model call. */
export class UserStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a user and, when given, the user's first key, and makes
   * `alongside`'s changes (the user's teams taking it in), in one
   * transaction: all or none of them, so a call cut short (the connection
   * lost) can be made again.
   */
  async insert(row: NewUserRow, key?: NewKeyRow, alongside?: (tx: Db) => Promise<void>): Promise<{ user: UserRow; key: KeyRow | undefined }> {
    return this.db.transaction(async (tx) => {
      const [user] = await tx.insert(users).values(row).returning();
      const [inserted] = key ? await tx.insert(virtualKeys).values(key).returning() : [];
      await alongside?.(tx);
      return { user: user as UserRow, key: inserted };
    });
  }

  /** Inserts a user unless one has its user_id or email already; whether it did. */
  async insertAbsent(row: NewUserRow): Promise<boolean> {
    const inserted = await this.db.insert(users).values(row).onConflictDoNothing().returning({ userId: users.userId });
    return inserted.length > 0;
  }

  /** Changes a user, and makes `alongside`'s changes (its budget's spend carried to a new window) in the same transaction. */
  update(userId: string, patch: UserPatch, alongside: (tx: Db, row: UserRow) => Promise<void>): Promise<UserRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(users)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(users.userId, userId))
        .returning();
      if (row) await alongside(tx, row);
      return row;
    });
  }

  async byId(userId: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select().from(users).where(eq(users.userId, userId));
    return row;
  }

  async byEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select().from(users).where(sql`lower(${users.userEmail}) = lower(${email})`);
    return row;
  }

  async all(): Promise<UserRow[]> {
    return this.db.select().from(users);
  }

  async byIds(userIds: string[]): Promise<UserRow[]> {
    return userIds.length === 0 ? [] : this.db.select().from(users).where(inArray(users.userId, userIds));
  }

  async keysOf(userId: string): Promise<KeyRow[]> {
    return this.db.select().from(virtualKeys).where(eq(virtualKeys.userId, userId)).orderBy(virtualKeys.createdAt, virtualKeys.id);
  }

  async teamsOf(userId: string): Promise<TeamRow[]> {
    return this.db.select().from(teams).where(namesMember(userId)).orderBy(teams.createdAt, teams.teamId);
  }

  /** A page of users, newest first (as LiteLLM lists them), with their keys' hashes (every hash each key has had) and count. */
  async list(filter: UserListFilter, offset: number, limit: number): Promise<{ rows: UserRow[]; keys: { hashes: string[]; count: number }[]; total: number }> {
    const conditions: SQL[] = [];
    if (filter.userIds.length > 0) conditions.push(inArray(users.userId, filter.userIds));
    if (filter.userRole) conditions.push(eq(users.userRole, filter.userRole));
    if (filter.userEmail) conditions.push(ilike(users.userEmail, `%${filter.userEmail.replace(/[\\%_]/g, "\\$&")}%`));
    if (filter.teamId) conditions.push(sql`EXISTS (SELECT 1 FROM ${teams} WHERE ${teams.teamId} = ${filter.teamId} AND ${namesMember(sql`${users.userId}`)})`);
    const where = conditions.length > 0 ? and(...conditions) : undefined;
    const rows = await this.db.select().from(users).where(where).orderBy(desc(users.createdAt), users.userId).offset(offset).limit(limit);
    const [total] = await this.db.select({ n: count() }).from(users).where(where);
    const ids = rows.map((row) => row.userId);
    const owned =
      ids.length === 0
        ? []
        : await this.db
            .select({ userId: virtualKeys.userId, keyHash: virtualKeys.keyHash, previous: virtualKeys.previousKeyHashes })
            .from(virtualKeys)
            .where(inArray(virtualKeys.userId, ids));
    const keys = ids.map(() => ({ hashes: [] as string[], count: 0 }));
    const byUser = new Map(ids.map((id, i) => [id, keys[i]]));
    for (const k of owned) {
      const of = byUser.get(k.userId);
      of?.hashes.push(k.keyHash, ...k.previous);
      if (of) of.count++;
    }
    return { rows, keys, total: total?.n ?? 0 };
  }

  /**
   * Deletes the users, as LiteLLM does with their keys and their places in
   * teams' and organizations' members, and makes `alongside`'s changes (what
   * they spent forgotten), in one transaction; answers the teams and
   * organizations whose members changed.
   */
  async delete(userIds: string[], alongside: (tx: Db, deleted: DeletedUsers) => Promise<void>): Promise<DeletedUsers> {
    return this.db.transaction(async (tx) => {
      const keys = await tx.delete(virtualKeys).where(inArray(virtualKeys.userId, userIds)).returning();
      const member = sql`m->>'user_id'`;
      const without = (list: AnyColumn) => sql`COALESCE((SELECT jsonb_agg(m) FROM jsonb_array_elements(${list}) m WHERE NOT (${inArray(member, userIds)})), '[]'::jsonb)`;
      const holding = (list: AnyColumn) => sql`EXISTS (SELECT 1 FROM jsonb_array_elements(${list}) m WHERE ${inArray(member, userIds)})`;
      // Read and locked before the change, which leaves the rows without the memberships it takes out.
      const changedTeams = await tx
        .select({ teamId: teams.teamId, createdAt: teams.createdAt, membersWithRoles: teams.membersWithRoles })
        .from(teams)
        .where(holding(teams.membersWithRoles))
        .for("update");
      const changedOrganizations = await tx
        .select({ organizationId: organizations.organizationId, createdAt: organizations.createdAt, members: organizations.members })
        .from(organizations)
        .where(holding(organizations.members))
        .for("update");
      if (changedTeams.length > 0) {
        await tx
          .update(teams)
          .set({ membersWithRoles: without(teams.membersWithRoles), updatedAt: new Date() })
          .where(inArray(teams.teamId, changedTeams.map((row) => row.teamId)));
      }
      if (changedOrganizations.length > 0) {
        await tx
          .update(organizations)
          .set({ members: without(organizations.members), updatedAt: new Date() })
          .where(inArray(organizations.organizationId, changedOrganizations.map((row) => row.organizationId)));
      }
      const deleted = { users: await tx.delete(users).where(inArray(users.userId, userIds)).returning(), keys, teams: changedTeams, organizations: changedOrganizations };
      await alongside(tx, deleted);
      return deleted;
    });
  }
}
