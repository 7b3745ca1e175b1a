import { ConnectError } from "@connectrpc/connect";
import { eq, like } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { allowances, virtualKeys } from "../src/db/schema.js";
import { asMaster, keysServiceBehindCuts, RESERVATION, type KeysClient } from "./support.js";

// Changes that move a budget to another window (a budget_duration given, a
// max_budget set where there was none) with their spend, removals that
// forget a member's spend, and deletes that forget everything the deleted
// spent: the keys service's connections to the real
// Postgres pass through a proxy that, when armed, cuts the connection that
// is about to change a budget window's spend (to move, carry, set or forget
// it), as a network blip or a failover can, after the change's row was
// written.

const service = keysServiceBehindCuts();

/** What the statements that move, carry and set a budget window's spend (AllowanceStore's moveSpend, carrySpend, setSpend) start with. */
const spendChange = ["SET carried_to =", 'insert into "keys"."allowances"'];

/** A route's change, made on what `make` made, and the spend its budget window shows after. */
interface Route {
  name: string;
  make: (client: KeysClient) => Promise<void>;
  change: (client: KeysClient) => Promise<unknown>;
  spend: (client: KeysClient) => Promise<number | undefined>;
  /** What the budget had spent before the change. */
  spent: number;
}

const byKey = (value: string) => ({ ref: { case: "key" as const, value } });
const keySpend = async (client: KeysClient, key: string) => (await client.getKey({ ref: byKey(key) }, asMaster)).key?.spend;

let updated = "";
const REGENERATED = "sk-regenerated-after-a-cut-0001";
let regenerated = "";

const routes: Route[] = [
  {
    name: "/key/update with a budget_duration",
    make: async (client) => void (updated = (await client.generateKey({ settings: { maxBudget: 10, spend: 2 } }, asMaster)).key),
    change: (client) => client.updateKey({ ref: byKey(updated), settings: { budgetDuration: "1d" } }, asMaster),
    spend: (client) => keySpend(client, updated),
    spent: 2,
  },
  {
    name: "/key/regenerate with a budget_duration",
    make: async (client) => void (regenerated = (await client.generateKey({ settings: { maxBudget: 10, spend: 2 } }, asMaster)).key),
    change: (client) => client.regenerateKey({ ref: byKey(regenerated), newKey: REGENERATED, settings: { budgetDuration: "1d" } }, asMaster),
    spend: (client) => keySpend(client, REGENERATED),
    spent: 2,
  },
  {
    name: "/key/generate with spend",
    make: async () => {},
    change: (client) => client.generateKey({ settings: { keyAlias: "generated-after-a-cut", maxBudget: 10, spend: 2 } }, asMaster),
    spend: async (client) => (await client.getKey({ ref: { ref: { case: "keyAlias", value: "generated-after-a-cut" } } }, asMaster)).key?.spend,
    spent: 2,
  },
  {
    name: "/team/update with a max_budget",
    make: async (client) => void (await client.createTeam({ teamId: "cut-team" }, asMaster)),
    change: (client) => client.updateTeam({ teamId: "cut-team", settings: { maxBudget: 10 }, spendBefore: 3 }, asMaster),
    spend: async (client) => (await client.getTeam({ teamId: "cut-team" }, asMaster)).team?.spend,
    spent: 3,
  },
  {
    name: "/user/update with a max_budget",
    make: async (client) => void (await client.createUser({ userId: "cut-user" }, asMaster)),
    change: (client) => client.updateUser({ userId: "cut-user", settings: { maxBudget: 10 }, spendBefore: 3 }, asMaster),
    spend: async (client) => (await client.getUser({ userId: "cut-user" }, asMaster)).user?.spend,
    spent: 3,
  },
  {
    name: "/customer/update with a max_budget",
    make: async (client) => void (await client.createCustomer({ userId: "cut-customer" }, asMaster)),
    change: (client) => client.updateCustomer({ userId: "cut-customer", settings: { maxBudget: 10 }, spendBefore: 3 }, asMaster),
    spend: async (client) => (await client.getCustomer({ userId: "cut-customer" }, asMaster)).customer?.spend,
    spent: 3,
  },
  {
    name: "/organization/update with a max_budget",
    make: async (client) => void (await client.createOrganization({ organizationId: "cut-organization", settings: { organizationAlias: "cut-organization" } }, asMaster)),
    change: (client) => client.updateOrganization({ organizationId: "cut-organization", settings: { maxBudget: 10 }, spendBefore: 3 }, asMaster),
    spend: async (client) => (await client.getOrganization({ organizationId: "cut-organization" }, asMaster)).organization?.spend,
    spent: 3,
  },
  {
    name: "/tag/update with a max_budget",
    make: async (client) => void (await client.createTag({ name: "cut-tag" }, asMaster)),
    change: (client) => client.updateTag({ name: "cut-tag", settings: { maxBudget: 10 }, spendBefore: 3 }, asMaster),
    spend: async (client) => (await client.getTags({ names: ["cut-tag"] }, asMaster)).tags[0]?.spend,
    spent: 3,
  },
];

describe("a change to another budget window whose connection is cut before its spend moves", () => {
  it.each(routes)("$name makes nothing, so the change tried again starts the window from what was spent", async (route) => {
    const client = service.client();
    await route.make(client);
    service.cuts().cutWhenSent(...spendChange);
    const failed = await route.change(client).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(service.cuts().armed).toBe(false);
    // (Unavailable through the gateway's interceptors, which this transport has not.)
    expect(failed).toBeInstanceOf(ConnectError);
    await route.change(client);
    expect(await route.spend(client)).toBeCloseTo(route.spent, 9);
  });
});

/** A removal of a member (`userId`) with a budget where `make` put it, the member put back after, and what its budget there shows spent. */
interface Removal {
  name: string;
  userId: string;
  make: (client: KeysClient) => Promise<void>;
  remove: (client: KeysClient) => Promise<unknown>;
  addAgain: (client: KeysClient) => Promise<unknown>;
  spend: (client: KeysClient) => Promise<number | undefined>;
}

/** What the member spends before its removal. */
const SPENT = RESERVATION * 2;

/** A request of `userId`'s key in the team, settled at SPENT. */
async function spendIn(client: KeysClient, teamId: string, userId: string): Promise<void> {
  const minted = await client.generateKey({ settings: { teamId, userId } }, asMaster);
  const requestId = `${teamId}/${userId}`;
  const auth = await client.authorize({ apiKey: minted.key, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10 });
  await client.release({ requestId, keyHash: minted.info!.keyHash, holder: auth.holder, cost: SPENT });
}

const teamMember = (userId: string) => JSON.stringify([{ role: "user", user_id: userId, max_budget_in_team: 10 }]);
const teamMemberSpend = async (client: KeysClient, teamId: string, userId: string) => (await client.getTeam({ teamId }, asMaster)).memberSpend.find((e) => e.key === userId)?.value;
const addToOrganization = (client: KeysClient, userId: string) =>
  client.addOrganizationMembers({ organizationId: "cut-members", membersJson: JSON.stringify([{ role: "internal_user", user_id: userId }]), maxBudgetInOrganization: 10 }, asMaster);

const removals: Removal[] = [
  {
    name: "/team/member_delete",
    userId: "cut-team-member",
    make: async (client) => {
      await client.createTeam({ teamId: "cut-members", settings: { membersWithRolesJson: teamMember("cut-team-member") } }, asMaster);
      await spendIn(client, "cut-members", "cut-team-member");
    },
    remove: (client) => client.removeTeamMember({ teamId: "cut-members", userId: "cut-team-member" }, asMaster),
    addAgain: (client) => client.addTeamMembers({ teamId: "cut-members", membersJson: teamMember("cut-team-member") }, asMaster),
    spend: (client) => teamMemberSpend(client, "cut-members", "cut-team-member"),
  },
  {
    name: "/team/update leaving the member out of members_with_roles",
    userId: "cut-dropped-member",
    make: async (client) => {
      await client.createTeam({ teamId: "cut-dropped-members", settings: { membersWithRolesJson: teamMember("cut-dropped-member") } }, asMaster);
      await spendIn(client, "cut-dropped-members", "cut-dropped-member");
    },
    remove: (client) => client.updateTeam({ teamId: "cut-dropped-members", settings: { membersWithRolesJson: "[]" } }, asMaster),
    addAgain: (client) => client.addTeamMembers({ teamId: "cut-dropped-members", membersJson: teamMember("cut-dropped-member") }, asMaster),
    spend: (client) => teamMemberSpend(client, "cut-dropped-members", "cut-dropped-member"),
  },
  {
    name: "/organization/member_delete",
    userId: "cut-organization-member",
    make: async (client) => {
      await client.createOrganization({ organizationId: "cut-members", settings: { organizationAlias: "cut-members" } }, asMaster);
      await addToOrganization(client, "cut-organization-member");
      await client.createTeam({ teamId: "cut-members-team", settings: { organizationId: "cut-members" } }, asMaster);
      await spendIn(client, "cut-members-team", "cut-organization-member");
    },
    remove: (client) => client.removeOrganizationMember({ organizationId: "cut-members", userId: "cut-organization-member" }, asMaster),
    addAgain: (client) => addToOrganization(client, "cut-organization-member"),
    spend: async (client) => (await client.getOrganization({ organizationId: "cut-members" }, asMaster)).memberSpend.find((e) => e.key === "cut-organization-member")?.value,
  },
  {
    name: "/user/delete of a team's member",
    userId: "cut-deleted-user",
    make: async (client) => {
      await client.createTeam({ teamId: "cut-deleted-users", settings: { membersWithRolesJson: teamMember("cut-deleted-user") } }, asMaster);
      await spendIn(client, "cut-deleted-users", "cut-deleted-user");
    },
    remove: (client) => client.deleteUsers({ userIds: ["cut-deleted-user"] }, asMaster),
    addAgain: async (client) => {
      await client.createUser({ userId: "cut-deleted-user" }, asMaster);
      await client.addTeamMembers({ teamId: "cut-deleted-users", membersJson: teamMember("cut-deleted-user") }, asMaster);
    },
    spend: (client) => teamMemberSpend(client, "cut-deleted-users", "cut-deleted-user"),
  },
];

describe("a removal whose connection is cut as it forgets the member's spend", () => {
  it.each(removals)("$name removes nothing, so the removal tried again forgets it and the member put back starts from 0", async (route) => {
    const client = service.client();
    await route.make(client);
    // Read, so written: no spend of the member's is left to write meanwhile.
    expect(await route.spend(client)).toBeCloseTo(SPENT, 9);
    // The member's allowances are the only ones named after it (".../member/<user_id>@<when it joined>"), and forgetting them the only statement of the removal to name them
    // (as a parameter, sent every time, where a statement's text is not once its connection has prepared it).
    service.cuts().cutWhenSent(`/member/${route.userId}`);
    const failed = await route.remove(client).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(service.cuts().armed).toBe(false);
    expect(failed).toBeInstanceOf(ConnectError);
    // The member is still there (the removal made nothing), so this removal is no 404 or 400.
    await route.remove(client);
    const named = await service.database().db.select({ keyId: allowances.keyId }).from(allowances).where(like(allowances.keyId, `%/member/${route.userId}@%`));
    expect(named).toEqual([]);
    await route.addAgain(client);
    expect(await route.spend(client)).toBe(0);
  });
});

/** A delete of what `make` made, every allowance of which has a key_id starting with what `make` answers. */
interface Deletion {
  name: string;
  make: (client: KeysClient) => Promise<string>;
  remove: (client: KeysClient) => Promise<unknown>;
}

let deletedKey = "";

const deletions: Deletion[] = [
  {
    name: "/key/delete",
    make: async (client) => {
      const minted = await client.generateKey({ settings: { maxBudget: 10, modelMaxBudget: { budgets: [{ key: "fast-model", value: { budgetLimit: 10, timePeriod: "" } }] } } }, asMaster);
      deletedKey = minted.key;
      const auth = await client.authorize({ apiKey: minted.key, requestId: "cut-deleted-key", model: "fast-model", promptTokens: 10, maxTokens: 10 });
      await client.release({ requestId: "cut-deleted-key", keyHash: minted.info!.keyHash, holder: auth.holder, cost: SPENT });
      expect(await keySpend(client, deletedKey)).toBeCloseTo(SPENT, 9);
      const [row] = await service.database().db.select({ id: virtualKeys.id }).from(virtualKeys).where(eq(virtualKeys.keyHash, minted.info!.keyHash));
      return row!.id;
    },
    remove: (client) => client.deleteKeys({ refs: [byKey(deletedKey)] }, asMaster),
  },
  {
    name: "/team/delete",
    make: async (client) => {
      await client.createTeam({ teamId: "cut-deleted-team", settings: { membersWithRolesJson: teamMember("cut-deleted-team-member") } }, asMaster);
      await spendIn(client, "cut-deleted-team", "cut-deleted-team-member");
      expect(await teamMemberSpend(client, "cut-deleted-team", "cut-deleted-team-member")).toBeCloseTo(SPENT, 9);
      return "team/cut-deleted-team@";
    },
    remove: (client) => client.deleteTeams({ teamIds: ["cut-deleted-team"] }, asMaster),
  },
  {
    name: "/organization/delete",
    make: async (client) => {
      await client.createOrganization({ organizationId: "cut-deleted-organization", settings: { organizationAlias: "cut-deleted-organization" } }, asMaster);
      await client.addOrganizationMembers(
        { organizationId: "cut-deleted-organization", membersJson: JSON.stringify([{ role: "internal_user", user_id: "cut-deleted-organization-member" }]), maxBudgetInOrganization: 10 },
        asMaster,
      );
      await client.createTeam({ teamId: "cut-deleted-organization-team", settings: { organizationId: "cut-deleted-organization" } }, asMaster);
      await spendIn(client, "cut-deleted-organization-team", "cut-deleted-organization-member");
      expect((await client.getOrganization({ organizationId: "cut-deleted-organization" }, asMaster)).memberSpend.find((e) => e.key === "cut-deleted-organization-member")?.value).toBeCloseTo(SPENT, 9);
      return "organization/cut-deleted-organization@";
    },
    remove: (client) => client.deleteOrganizations({ organizationIds: ["cut-deleted-organization"] }, asMaster),
  },
];

/** How many allowance rows have a key_id starting with `prefix`. */
const rowsUnder = async (prefix: string) => (await service.database().db.select({ keyId: allowances.keyId }).from(allowances).where(like(allowances.keyId, `${prefix}%`))).length;

describe("a delete whose connection is cut as it forgets what was spent", () => {
  it.each(deletions)("$name deletes nothing, so the delete tried again forgets every allowance of what it deletes", async (route) => {
    const client = service.client();
    const named = await route.make(client);
    expect(await rowsUnder(named)).toBeGreaterThan(0);
    // Forgetting names them (as parameters); nothing else the delete sends does.
    service.cuts().cutWhenSent(named);
    const failed = await route.remove(client).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(service.cuts().armed).toBe(false);
    expect(failed).toBeInstanceOf(ConnectError);
    // Still there (the delete made nothing), so this delete is no 404.
    await route.remove(client);
    expect(await rowsUnder(named)).toBe(0);
  });
});
