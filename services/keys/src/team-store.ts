import { eq, inArray } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { teams, virtualKeys } from "./db/schema.js";
import type { KeyRow } from "./key-record.js";
import { nextStamp } from "./member-generation.js";
import type { TeamRow } from "./team-record.js";

export type NewTeamRow = typeof teams.$inferInsert;
export type TeamPatch = Partial<Omit<NewTeamRow, "teamId" | "createdAt">>;

/** TeamStore.change() in a transaction of the caller's (`tx`), which keeps the team's row locked until it ends. */
export async function changeTeamIn(tx: Db, teamId: string, change: (row: TeamRow) => Promise<TeamPatch>): Promise<TeamRow | undefined> {
  const [row] = await tx.select().from(teams).where(eq(teams.teamId, teamId)).for("update");
  if (!row) return undefined;
  const [updated] = await tx
    .update(teams)
    .set({ ...(await change(row)), updatedAt: new Date() })
    .where(eq(teams.teamId, teamId))
    .returning();
  return updated;
}

/** changeTeamIn() of the members alone; `change` stamps those joining with `stamp` (nextStamp), which the team keeps as its latest. */
export function changeMembersIn(tx: Db, teamId: string, change: (members: unknown[], stamp: number) => unknown[]): Promise<TeamRow | undefined> {
  return changeTeamIn(tx, teamId, async (row) => {
    const stamp = nextStamp(row.memberStampMs);
    return { membersWithRoles: change(Array.isArray(row.membersWithRoles) ? (row.membersWithRoles as unknown[]) : [], stamp), memberStampMs: stamp };
  });
}

/** What TeamStore.delete deleted. */
export interface DeletedTeams {
  teams: TeamRow[];
  keys: KeyRow[];
}

/** Teams in Postgres. Only management calls and cache loads come here, never a model call. */
export class TeamStore {
  constructor(private readonly db: Db) {}

  async insert(row: NewTeamRow): Promise<TeamRow> {
    const [inserted] = await this.db.insert(teams).values(row).returning();
    return inserted as TeamRow;
  }

  /**
   * Changes a team by `patch` of the team as it is (its row locked
   * meanwhile: a member's stamp comes from there), and makes `alongside`'s
   * changes (its budget's spend carried to a new window, that of the members
   * it drops forgotten), given the team before and after, in the same
   * transaction.
   */
  update(teamId: string, patch: (current: TeamRow) => TeamPatch, alongside: (tx: Db, before: TeamRow, row: TeamRow) => Promise<void>): Promise<TeamRow | undefined> {
    return this.db.transaction(async (tx) => {
      let before: TeamRow | undefined;
      const row = await changeTeamIn(tx, teamId, async (current) => {
        before = current;
        return patch(current);
      });
      if (row && before) await alongside(tx, before, row);
      return row;
    });
  }

  /**
   * Changes a team from what it is at the time of the change: the row is
   * locked meanwhile, so changes made at once on several replicas all apply.
   */
  change(teamId: string, change: (row: TeamRow) => Promise<TeamPatch>): Promise<TeamRow | undefined> {
    return this.db.transaction((tx) => changeTeamIn(tx, teamId, change));
  }

  /** change() of the members alone, making `alongside`'s changes (a removed member's spend forgotten) in the same transaction. */
  changeMembers(teamId: string, change: (members: unknown[], stamp: number) => unknown[], alongside?: (tx: Db, row: TeamRow) => Promise<void>): Promise<TeamRow | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await changeMembersIn(tx, teamId, change);
      if (row && alongside) await alongside(tx, row);
      return row;
    });
  }

  async byId(teamId: string): Promise<TeamRow | undefined> {
    const [row] = await this.db.select().from(teams).where(eq(teams.teamId, teamId));
    return row;
  }

  async all(): Promise<TeamRow[]> {
    return this.db.select().from(teams).orderBy(teams.createdAt, teams.teamId);
  }

  async byIds(teamIds: string[]): Promise<TeamRow[]> {
    return teamIds.length === 0 ? [] : this.db.select().from(teams).where(inArray(teams.teamId, teamIds));
  }

  async keysOf(teamId: string): Promise<KeyRow[]> {
    return this.db.select().from(virtualKeys).where(eq(virtualKeys.teamId, teamId)).orderBy(virtualKeys.createdAt, virtualKeys.id);
  }

  /**
   * Deletes the teams and, as LiteLLM does, every key that names one of them,
   * and makes `alongside`'s changes (what they spent forgotten), in one
   * transaction; the teams are locked first, so a key put in one meanwhile
   * is either deleted with it or refused (KeyStore.writeKey).
   */
  async delete(teamIds: string[], alongside: (tx: Db, deleted: DeletedTeams) => Promise<void>): Promise<DeletedTeams> {
    return this.db.transaction(async (tx) => {
      await tx.select({ id: teams.teamId }).from(teams).where(inArray(teams.teamId, teamIds)).for("update");
      const keys = await tx.delete(virtualKeys).where(inArray(virtualKeys.teamId, teamIds)).returning();
      const deleted = { teams: await tx.delete(teams).where(inArray(teams.teamId, teamIds)).returning(), keys };
      await alongside(tx, deleted);
      return deleted;
    });
  }
}
