import { eq, inArray, or } from "drizzle-orm";
import type { Db } from "@gateway/common";
import type { BudgetStore } from "./budget-store.js";
import { organizations, teams, virtualKeys } from "./db/schema.js";
import type { KeyRow } from "./key-record.js";
import { nextStamp } from "./member-generation.js";
import { membersOf, type OrganizationMember, type OrganizationRow } from "./organization-record.js";
import type { TeamRow } from "./team-record.js";

export type NewOrganizationRow = typeof organizations.$inferInsert;
export type OrganizationPatch = Partial<Omit<NewOrganizationRow, "organizationId" | "createdAt" | "members">>;

/** What OrganizationStore.delete deleted. */
export interface DeletedOrganizations {
  organizations: OrganizationRow[];
  teams: TeamRow[];
  keys: KeyRow[];
}

/**
 * Organizations in Postgres, each read with the limits in force (its
 * budget's filling in what it leaves unset). Only management calls and
 * cache loads come here, never a model call.
 */
export class OrganizationStore {
  constructor(
    private readonly db: Db,
    private readonly budgets: BudgetStore,
  ) {}

  async insert(row: NewOrganizationRow): Promise<OrganizationRow> {
    const [inserted] = await this.db.insert(organizations).values(row).returning();
    return (await this.budgets.oneInForce(inserted)) as OrganizationRow;
  }

  /** As CustomerStore.update, for an organization. */
  update(organizationId: string, patch: OrganizationPatch, alongside: (tx: Db, row: OrganizationRow) => Promise<void>): Promise<OrganizationRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(organizations)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(organizations.organizationId, organizationId))
        .returning();
      const row = await this.budgets.in(tx).oneInForce(updated);
      if (row) await alongside(tx, row);
      return row;
    });
  }

  /** As TeamStore.changeMembers: the row is locked while its members change, so changes made at once on several replicas all apply, and those joining get a stamp of its own. */
  async changeMembers(
    organizationId: string,
    change: (members: OrganizationMember[], stamp: number) => OrganizationMember[],
    alongside?: (tx: Db, row: OrganizationRow) => Promise<void>,
  ): Promise<OrganizationRow | undefined> {
    const changed = await this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(organizations).where(eq(organizations.organizationId, organizationId)).for("update");
      if (!row) return undefined;
      const stamp = nextStamp(row.memberStampMs);
      const [updated] = await tx
        .update(organizations)
        .set({ members: change(membersOf(row), stamp), memberStampMs: stamp, updatedAt: new Date() })
        .where(eq(organizations.organizationId, organizationId))
        .returning();
      if (updated && alongside) await alongside(tx, updated);
      return updated;
    });
    return this.budgets.oneInForce(changed);
  }

  async byId(organizationId: string): Promise<OrganizationRow | undefined> {
    const [row] = await this.db.select().from(organizations).where(eq(organizations.organizationId, organizationId));
    return this.budgets.oneInForce(row);
  }

  /** Every organization, or only those that name `budgetId` as their budget. */
  async all(budgetId = ""): Promise<OrganizationRow[]> {
    const onBudget = budgetId === "" ? undefined : eq(organizations.budgetId, budgetId);
    return this.budgets.inForce(await this.db.select().from(organizations).where(onBudget).orderBy(organizations.createdAt, organizations.organizationId));
  }

  async byIds(organizationIds: string[]): Promise<OrganizationRow[]> {
    if (organizationIds.length === 0) return [];
    return this.budgets.inForce(await this.db.select().from(organizations).where(inArray(organizations.organizationId, organizationIds)));
  }

  /** The teams that belong to any of the organizations. */
  async teamsOf(organizationIds: string[]): Promise<TeamRow[]> {
    if (organizationIds.length === 0) return [];
    return this.db.select().from(teams).where(inArray(teams.organizationId, organizationIds)).orderBy(teams.createdAt, teams.teamId);
  }

  /** The keys that name any of the organizations themselves. */
  async keysOf(organizationIds: string[]): Promise<KeyRow[]> {
    if (organizationIds.length === 0) return [];
    return this.db.select().from(virtualKeys).where(inArray(virtualKeys.organizationId, organizationIds)).orderBy(virtualKeys.createdAt, virtualKeys.id);
  }

  /**
   * Deletes the organizations with their teams and, as LiteLLM does, every
   * key of theirs or of those teams, and makes `alongside`'s changes (what
   * they spent forgotten), in one transaction (the organizations are locked
   * first, so no team or key joins one meanwhile).
   */
  async delete(organizationIds: string[], alongside: (tx: Db, deleted: DeletedOrganizations) => Promise<void>): Promise<DeletedOrganizations> {
    const deleted = await this.db.transaction(async (tx) => {
      await tx.select({ id: organizations.organizationId }).from(organizations).where(inArray(organizations.organizationId, organizationIds)).for("update");
      const teamIds = (await tx.select({ id: teams.teamId }).from(teams).where(inArray(teams.organizationId, organizationIds))).map((t) => t.id);
      const inTeams = teamIds.length === 0 ? undefined : inArray(virtualKeys.teamId, teamIds);
      const keys = await tx.delete(virtualKeys).where(or(inArray(virtualKeys.organizationId, organizationIds), inTeams)).returning();
      const deletedTeams = teamIds.length === 0 ? [] : await tx.delete(teams).where(inArray(teams.teamId, teamIds)).returning();
      const gone = { organizations: await tx.delete(organizations).where(inArray(organizations.organizationId, organizationIds)).returning(), teams: deletedTeams, keys };
      await alongside(tx, gone);
      return gone;
    });
    // After the transaction: the embedded database has one connection, which it held.
    return { ...deleted, organizations: await this.budgets.inForce(deleted.organizations) };
  }
}
