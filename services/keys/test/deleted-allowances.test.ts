import { MemoryBus, type Database } from "@gateway/common";
import { eq, like } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowances, virtualKeys } from "../src/db/schema.js";
import { startKeys } from "../src/index.js";
import { asMaster, clientOf, config, keysDatabase, logger, RESERVATION, type Keys, type KeysClient } from "./support.js";

// A delete forgets every allowance row derived from what it deletes: the
// holders' own, their members' and their models' (all named the holder's
// id, "/" and more), which nothing would read again.

let database: Database;
let keys: Keys;
let client: KeysClient;

beforeAll(async () => {
  database = await keysDatabase();
  keys = await startKeys({ config, database, bus: new MemoryBus(), logger });
  client = clientOf(keys);
});
afterAll(async () => {
  await keys?.stop();
  await database?.close();
});

/** The allowance rows whose key_id starts with `prefix`. */
const rowsUnder = async (prefix: string) => (await database.db.select({ keyId: allowances.keyId }).from(allowances).where(like(allowances.keyId, `${prefix}%`))).map((row) => row.keyId);

const modelBudget = { budgets: [{ key: "fast-model", value: { budgetLimit: 10, timePeriod: "" } }] };
const member = (userId: string) => JSON.stringify([{ role: "user", user_id: userId, max_budget_in_team: 10 }]);

/** A request settled on a key (of `userId`'s in `teamId`, if given) with a budget for fast-model; the key's allowance id (its row's id) and hash. */
async function spendOnKey(settings: { teamId?: string; userId?: string }): Promise<{ keyId: string; keyHash: string }> {
  const minted = await client.generateKey({ settings: { ...settings, modelMaxBudget: modelBudget } }, asMaster);
  const requestId = `deleted/${minted.info!.keyHash}`;
  const auth = await client.authorize({ apiKey: minted.key, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10 });
  await client.release({ requestId, keyHash: minted.info!.keyHash, holder: auth.holder, cost: RESERVATION });
  const [row] = await database.db.select({ id: virtualKeys.id }).from(virtualKeys).where(eq(virtualKeys.keyHash, minted.info!.keyHash));
  return { keyId: row!.id, keyHash: minted.info!.keyHash };
}

/** A team with a budget for fast-model and a member with a budget, and a request of that member's spent in it. */
async function teamWithSpend(teamId: string, userId: string, organizationId?: string): Promise<string> {
  await client.createTeam({ teamId, settings: { membersWithRolesJson: member(userId), modelMaxBudget: modelBudget, maxBudget: 10, ...(organizationId && { organizationId }) } }, asMaster);
  return (await spendOnKey({ teamId, userId })).keyId;
}

describe("a delete leaves no allowance derived from what it deleted", () => {
  it("/key/delete forgets the key's and its models'", async () => {
    const { keyId, keyHash } = await spendOnKey({});
    expect(await rowsUnder(keyId)).toContain(`${keyId}/model/fast-model`);
    await client.deleteKeys({ refs: [{ ref: { case: "keyHash", value: keyHash } }] }, asMaster);
    expect(await rowsUnder(keyId)).toEqual([]);
  });

  it("/user/delete forgets the user's keys' and their models'", async () => {
    await client.createUser({ userId: "deleted-user" }, asMaster);
    const { keyId } = await spendOnKey({ userId: "deleted-user" });
    expect(await rowsUnder(keyId)).toContain(`${keyId}/model/fast-model`);
    await client.deleteUsers({ userIds: ["deleted-user"] }, asMaster);
    expect(await rowsUnder(keyId)).toEqual([]);
  });

  it("/team/delete forgets the team's, its models', its members' and its keys'", async () => {
    const keyId = await teamWithSpend("deleted-team", "deleted-team-member");
    expect(await rowsUnder("team/deleted-team@")).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/member\/deleted-team-member@\d+$/), expect.stringMatching(/\/model\/fast-model$/)]),
    );
    await client.deleteTeams({ teamIds: ["deleted-team"] }, asMaster);
    expect(await rowsUnder("team/deleted-team@")).toEqual([]);
    expect(await rowsUnder(keyId)).toEqual([]);
  });

  it("/organization/delete forgets the organization's, its members', and its teams' and their keys' with all theirs", async () => {
    await client.createOrganization({ organizationId: "deleted-organization", settings: { organizationAlias: "deleted-organization" } }, asMaster);
    await client.addOrganizationMembers(
      { organizationId: "deleted-organization", membersJson: JSON.stringify([{ role: "internal_user", user_id: "deleted-organization-member" }]), maxBudgetInOrganization: 10 },
      asMaster,
    );
    const keyId = await teamWithSpend("deleted-organization-team", "deleted-organization-member", "deleted-organization");
    expect(await rowsUnder("organization/deleted-organization@")).toEqual([expect.stringMatching(/\/member\/deleted-organization-member@\d+$/)]);
    expect(await rowsUnder("team/deleted-organization-team@")).toContainEqual(expect.stringMatching(/\/member\/deleted-organization-member@\d+$/));
    await client.deleteOrganizations({ organizationIds: ["deleted-organization"] }, asMaster);
    expect(await rowsUnder("organization/deleted-organization@")).toEqual([]);
    expect(await rowsUnder("team/deleted-organization-team@")).toEqual([]);
    expect(await rowsUnder(keyId)).toEqual([]);
  });
});

describe("a member's removal forgets its membership's allowances, named by when it began", () => {
  /** The memberships with allowance rows under `prefix`, each as its user id and "@began" for the time it began. */
  const membershipsUnder = async (prefix: string) =>
    (await rowsUnder(prefix))
      .filter((id) => id.includes("/member/"))
      .map((id) => id.slice(id.indexOf("/member/") + "/member/".length).replace(/@\d+$/, "@began"))
      .sort();

  it("/team/member_delete and /team/update leaving the member out", async () => {
    await teamWithSpend("shrinking-team", "removed-member");
    await client.addTeamMembers({ teamId: "shrinking-team", membersJson: member("left-out-member") }, asMaster);
    await spendOnKey({ teamId: "shrinking-team", userId: "left-out-member" });
    expect(await membershipsUnder("team/shrinking-team@")).toEqual(["left-out-member@began", "removed-member@began"]);
    await client.removeTeamMember({ teamId: "shrinking-team", userId: "removed-member" }, asMaster);
    expect(await membershipsUnder("team/shrinking-team@")).toEqual(["left-out-member@began"]);
    await client.updateTeam({ teamId: "shrinking-team", settings: { membersWithRolesJson: "[]" } }, asMaster);
    expect(await membershipsUnder("team/shrinking-team@")).toEqual([]);
  });

  it("/organization/member_delete, and /user/delete in teams and organizations", async () => {
    await client.createOrganization({ organizationId: "shrinking-organization", settings: { organizationAlias: "shrinking-organization" } }, asMaster);
    for (const userId of ["removed-member", "deleted-member"]) {
      await client.addOrganizationMembers(
        { organizationId: "shrinking-organization", membersJson: JSON.stringify([{ role: "internal_user", user_id: userId }]), maxBudgetInOrganization: 10 },
        asMaster,
      );
    }
    await teamWithSpend("shrinking-organization-team", "deleted-member", "shrinking-organization");
    await spendOnKey({ teamId: "shrinking-organization-team", userId: "removed-member" });
    expect(await membershipsUnder("organization/shrinking-organization@")).toEqual(["deleted-member@began", "removed-member@began"]);
    await client.removeOrganizationMember({ organizationId: "shrinking-organization", userId: "removed-member" }, asMaster);
    expect(await membershipsUnder("organization/shrinking-organization@")).toEqual(["deleted-member@began"]);
    expect(await membershipsUnder("team/shrinking-organization-team@")).toEqual(["deleted-member@began"]);
    await client.deleteUsers({ userIds: ["deleted-member"] }, asMaster);
    expect(await membershipsUnder("organization/shrinking-organization@")).toEqual([]);
    expect(await membershipsUnder("team/shrinking-organization-team@")).toEqual([]);
  });
});
