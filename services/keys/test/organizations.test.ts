import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { entryObject } from "@gateway/common";
import { Access, type AuthorizeResponse, type KeySettingsSchema, type Organization, type OrganizationSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { eq } from "drizzle-orm";
import { describe, expect, it, vi } from "vitest";
import { organizations } from "../src/db/schema.js";
import { toOrganizationRecord } from "../src/organization-record.js";
import { RESERVATION, asMaster, clientOf, granted, heldReplica, keysService } from "./support.js";

// LiteLLM's organizations: teams belong to one, and its block, models,
// budget and rate limits hold every request of their keys.

const service = keysService();
const client = service.client;
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const refused = (call: Promise<unknown>) => call.then(() => undefined, (e: unknown) => ConnectError.from(e));

async function createOrganization(organizationId: string, settings: MessageInitShape<typeof OrganizationSettingsSchema> = {}): Promise<Organization> {
  const { organization } = await client().createOrganization({ organizationId, settings: { organizationAlias: organizationId, ...settings } }, asMaster);
  return organization!;
}

/** A team in the organization, with one key (of `userId`, when given). */
async function teamKey(organizationId: string, teamId: string, userId = ""): Promise<{ key: string; hash: string }> {
  await client().createTeam({ teamId, settings: { organizationId } }, asMaster);
  const minted = await client().generateKey({ settings: { teamId, userId } }, asMaster);
  return { key: minted.key, hash: minted.info!.keyHash };
}

let requests = 0;
const ask = (apiKey: string, model = "fast-model", requestId = `req-${++requests}`, via = client()): Promise<AuthorizeResponse> =>
  via.authorize({ apiKey, requestId, model, promptTokens: 10, maxTokens: 10 });

const members = (o: Organization | undefined) => JSON.parse(o!.membersJson) as unknown[];

/** A member's budget in the organization, as a replica loading the organization now holds it. */
async function memberBudget(organizationId: string, userId: string) {
  const [row] = await service.database().db.select().from(organizations).where(eq(organizations.organizationId, organizationId));
  return toOrganizationRecord(row!).members.get(userId)!;
}

describe("organization management", () => {
  it("creates, shows, changes and lists organizations", async () => {
    const made = await createOrganization("acme", { models: { models: ["fast-model"] }, maxBudget: 100, rpmLimit: 50, metadataJson: '{"region":"eu"}' });
    expect(made).toMatchObject({ organizationId: "acme", organizationAlias: "acme", models: ["fast-model"], maxBudget: 100, rpmLimit: 50, spend: 0, blocked: false, teamIds: [] });
    expect(made.metadataJson).toBe('{"region":"eu"}');
    const generated = (await client().createOrganization({ settings: { organizationAlias: "Unnamed" } }, asMaster)).organization!;
    expect(generated.organizationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.spend).toBeUndefined();
    await expect(client().createOrganization({ organizationId: "acme", settings: { organizationAlias: "again" } }, asMaster)).rejects.toMatchObject({ code: Code.AlreadyExists });
    await expect(client().createOrganization({ organizationId: "nameless" }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "organization_alias is required",
    });
    const changed = (await client().updateOrganization({ organizationId: "acme", settings: { organizationAlias: "ACME Inc", clear: ["rpm_limit"] } }, asMaster)).organization!;
    expect(changed).toMatchObject({ organizationAlias: "ACME Inc", maxBudget: 100 });
    expect(changed.rpmLimit).toBeUndefined();
    const listed = (await client().listOrganizations({}, asMaster)).organizations.map((o) => o.organizationId);
    expect(listed).toEqual(expect.arrayContaining(["acme", generated.organizationId]));
    await expect(client().getOrganization({ organizationId: "nowhere" }, asMaster)).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: "Organization not found for organization_id=nowhere",
    });
  });

  it("takes only teams naming an organization that exists, within its models and limits", async () => {
    await createOrganization("bounded", { models: { models: ["fast-model"] }, maxBudget: 10, tpmLimit: 1000 });
    await expect(client().createTeam({ teamId: "orphan", settings: { organizationId: "missing" } }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("organization_id missing names no organization"),
    });
    await expect(client().createTeam({ teamId: "wide", settings: { organizationId: "bounded", models: { models: ["smart-model"] } } }, asMaster)).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "models [smart-model] are not among organization bounded's models [fast-model]",
    });
    await expect(client().createTeam({ teamId: "rich", settings: { organizationId: "bounded", maxBudget: 11 } }, asMaster)).rejects.toMatchObject({
      rawMessage: "max_budget (11) is over organization bounded's max_budget (10)",
    });
    // A team without models gets the organization's; one made outside may join later, within the same bounds.
    const inside = (await client().createTeam({ teamId: "inside", settings: { organizationId: "bounded", maxBudget: 5 } }, asMaster)).team!;
    expect(inside).toMatchObject({ organizationId: "bounded", models: ["fast-model"] });
    await client().createTeam({ teamId: "outside", settings: { tpmLimit: 5000 } }, asMaster);
    await expect(client().updateTeam({ teamId: "outside", settings: { organizationId: "bounded" } }, asMaster)).rejects.toMatchObject({
      rawMessage: "tpm_limit (5000) is over organization bounded's tpm_limit (1000)",
    });
    await client().updateTeam({ teamId: "outside", settings: { organizationId: "bounded", tpmLimit: 500 } }, asMaster);
    const got = await client().getOrganization({ organizationId: "bounded" }, asMaster);
    expect(got.organization?.teamIds).toEqual(["inside", "outside"]);
    expect(got.teams.map((t) => t.teamId)).toEqual(["inside", "outside"]);
    // Leaving takes the team out.
    expect((await client().updateTeam({ teamId: "outside", settings: { organizationId: "" } }, asMaster)).team?.organizationId).toBe("");
  });

  it("deletes organizations with their teams and the teams' keys, and nothing when one named is unknown", async () => {
    await createOrganization("doomed");
    const a = await teamKey("doomed", "doomed-team");
    expect((await ask(a.key)).teamId).toBe("doomed-team");
    await expect(client().deleteOrganizations({ organizationIds: ["doomed", "unknown"] }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
    expect((await client().getOrganization({ organizationId: "doomed" }, asMaster)).teams).toHaveLength(1);
    const deleted = await client().deleteOrganizations({ organizationIds: ["doomed"] }, asMaster);
    expect(deleted.organizations.map((o) => o.organizationId)).toEqual(["doomed"]);
    expect(deleted.deletedTeamIds).toEqual(["doomed-team"]);
    expect(deleted.deletedKeyHashes).toEqual([a.hash]);
    await expect(ask(a.key)).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(client().getTeam({ teamId: "doomed-team" }, asMaster)).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("lets only admins make, change and delete organizations", async () => {
    await client().createUser({ userId: "plain", settings: { userRole: "internal_user" } }, asMaster);
    const plain = (await client().generateKey({ settings: { userId: "plain" } }, asMaster)).key;
    for (const call of [
      client().createOrganization({ settings: { organizationAlias: "mine" } }, as(plain)),
      client().updateOrganization({ organizationId: "acme", settings: { maxBudget: 1 } }, as(plain)),
      client().deleteOrganizations({ organizationIds: ["acme"] }, as(plain)),
    ]) {
      expect(await refused(call)).toMatchObject({ code: Code.PermissionDenied });
    }
    // Not a member: it reads no organization, and lists none.
    expect(await refused(client().getOrganization({ organizationId: "acme" }, as(plain)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().listOrganizations({}, as(plain))).organizations).toEqual([]);
  });
});

describe("an organization's budget_id", () => {
  it("gives it the budget's limits for those it leaves unset, as the budget changes, and keeps the budget from deletion", async () => {
    await client().createBudget({ budgetId: "org-tier", settings: { maxParallelRequests: 1, rpmLimit: 100 } }, asMaster);
    const made = await createOrganization("tiered", { budgetId: "org-tier", rpmLimit: 7 });
    expect(made).toMatchObject({ budgetId: "org-tier", maxParallelRequests: 1, rpmLimit: 7 });
    const a = await teamKey("tiered", "tiered-team");
    const first = await ask(a.key, "fast-model", "tiered-1");
    await expect(ask(a.key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("max_parallel_requests (1) reached for this organization") });
    await client().release({ requestId: "tiered-1", keyHash: a.hash, holder: first.holder, cost: 0 });
    // The budget's change reaches the organization's keys at once.
    await client().updateBudget({ budgetId: "org-tier", settings: { clear: ["max_parallel_requests"] } }, asMaster);
    const held = [await ask(a.key), await ask(a.key)];
    expect(held.every((r) => r.reserved)).toBe(true);
    expect((await client().getOrganization({ organizationId: "tiered" }, asMaster)).organization?.maxParallelRequests).toBeUndefined();
    await expect(client().deleteBudget({ budgetId: "org-tier" }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(createOrganization("untiered", { budgetId: "no-such-budget" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "budget_id=no-such-budget does not exist; make it with /budget/new first",
    });
    const cleared = (await client().updateOrganization({ organizationId: "tiered", settings: { clear: ["budget_id"] } }, asMaster)).organization!;
    expect(cleared).toMatchObject({ budgetId: "", rpmLimit: 7 });
    await client().deleteBudget({ budgetId: "org-tier" }, asMaster);
  });

  // On a database with one connection (the embedded one), a read on another
  // connection inside a change's transaction waited for it for good.
  it("deletes an organization on a budget, and changes the models of its team, on one connection", async () => {
    await client().createBudget({ budgetId: "one-conn-tier", settings: { maxBudget: 5 } }, asMaster);
    await createOrganization("one-conn", { budgetId: "one-conn-tier", models: { models: ["fast-model", "smart-model"] } });
    await client().createTeam({ teamId: "one-conn-team", settings: { organizationId: "one-conn", models: { models: ["fast-model"] } } }, asMaster);
    const changed = await client().changeTeamModels({ teamId: "one-conn-team", add: ["smart-model"], remove: [] }, asMaster);
    expect(changed.team?.models).toEqual(["fast-model", "smart-model"]);
    await expect(client().changeTeamModels({ teamId: "one-conn-team", add: ["outside-model"], remove: [] }, asMaster)).rejects.toMatchObject({ code: Code.InvalidArgument });
    const { organizations } = await client().deleteOrganizations({ organizationIds: ["one-conn"] }, asMaster);
    expect(organizations.map((o) => [o.organizationId, o.budgetId, o.maxBudget])).toEqual([["one-conn", "one-conn-tier", 5]]);
    expect((await client().listBudgets({}, asMaster)).budgets.map((b) => b.budgetId)).toContain("one-conn-tier");
  }, 10_000);
});

describe("an organization's hold on its teams' keys", () => {
  it("refuses its teams' keys while it is blocked, and a model outside its models", async () => {
    await createOrganization("blockable");
    const a = await teamKey("blockable", "blockable-team");
    await client().updateOrganization({ organizationId: "blockable", settings: { blocked: true } }, asMaster);
    await expect(ask(a.key)).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "Authentication Error, this key's organization (blockable) is blocked",
    });
    await expect(client().authorize({ apiKey: a.key, access: Access.LOOKUP })).rejects.toMatchObject({ code: Code.Unauthenticated });
    await client().updateOrganization({ organizationId: "blockable", settings: { blocked: false, models: { models: ["smart-model"] } } }, asMaster);
    await expect(ask(a.key)).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: "Organization=blockable may not use model=fast-model. It may use models=[smart-model]",
    });
    await client().updateOrganization({ organizationId: "blockable", settings: { models: { models: [] } } }, asMaster);
    expect((await ask(a.key)).teamId).toBe("blockable-team");
  });

  it("admits no more requests at once, across teams, keys and replicas, than its budget can reserve", async () => {
    const fits = 5;
    await createOrganization("contended", { maxBudget: RESERVATION * (fits + 0.5) });
    const keys = [await teamKey("contended", "contended-a"), await teamKey("contended", "contended-b")];
    const other = await service.replica();
    const cost = RESERVATION / 2;
    try {
      const replicas = [client(), clientOf(other)];
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => ask(keys[(i >> 1) % 2]!.key, "fast-model", `org-burst-${i}`, replicas[i % 2])));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(fits);
      for (const r of results) {
        if (r.status === "rejected") {
          expect(ConnectError.from(r.reason)).toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringContaining("Budget has been exceeded! Organization=contended ") });
        }
      }
      await Promise.all(
        results.map((r, i) => (r.status === "fulfilled" ? client().release({ requestId: `org-burst-${i}`, keyHash: r.value.keyHash, holder: r.value.holder, cost }) : undefined)),
      );
    } finally {
      await other.stop();
    }
    expect((await client().getOrganization({ organizationId: "contended" }, asMaster)).organization?.spend).toBeCloseTo(fits * cost, 12);
  });

  it("holds parallel requests over all its teams", async () => {
    await createOrganization("narrow", { maxParallelRequests: 1 });
    const a = await teamKey("narrow", "narrow-a");
    const b = await teamKey("narrow", "narrow-b");
    const first = await ask(a.key, "fast-model", "narrow-1");
    await expect(ask(b.key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("organization") });
    await client().release({ requestId: "narrow-1", keyHash: a.hash, holder: first.holder, cost: 0 });
    expect((await ask(b.key)).reserved).toBe(true);
  });
});

describe("keys that name an organization themselves", () => {
  it("are held to it without a team, and must name one that exists, their team's, within its models", async () => {
    await createOrganization("direct", { models: { models: ["fast-model"] }, maxParallelRequests: 1 });
    await createOrganization("other-direct");
    const minted = await client().generateKey({ settings: { organizationId: "direct" } }, asMaster);
    expect(minted.info?.organizationId).toBe("direct");
    // Its hash comes with the organization (its ledger rows are the organization's); a key of one of its teams' does not.
    await client().createTeam({ teamId: "direct-team", settings: { organizationId: "direct" } }, asMaster);
    await client().generateKey({ settings: { organizationId: "direct", teamId: "direct-team" } }, asMaster);
    expect((await client().getOrganization({ organizationId: "direct" }, asMaster)).organization?.keyHashes).toEqual([minted.info!.keyHash]);
    // The organization's keys: those that name it, and its teams' (which show it as theirs), and no others.
    const teamKeyOf = await client().generateKey({ settings: { teamId: "direct-team" } }, asMaster);
    expect(teamKeyOf.info?.organizationId).toBe("direct");
    await client().generateKey({}, asMaster);
    const listed = (await client().listKeys({ organizationId: "direct", size: 100 }, asMaster)).keys.map((k) => k.keyHash);
    expect(listed).toHaveLength(3);
    expect(listed).toEqual(expect.arrayContaining([minted.info!.keyHash, teamKeyOf.info!.keyHash]));
    const first = await ask(minted.key, "fast-model", "direct-1");
    await expect(ask(minted.key)).rejects.toMatchObject({ code: Code.ResourceExhausted, rawMessage: expect.stringContaining("organization") });
    await client().release({ requestId: "direct-1", keyHash: minted.info!.keyHash, holder: first.holder, cost: 0 });
    await expect(ask(minted.key, "smart-model")).rejects.toMatchObject({ rawMessage: expect.stringContaining("Organization=direct may not use model=smart-model") });
    const refusals: [MessageInitShape<typeof KeySettingsSchema>, string][] = [
      [{ organizationId: "missing" }, "organization_id missing names no organization"],
      [{ organizationId: "other-direct", teamId: "direct-team" }, "team direct-team belongs to organization direct, not other-direct"],
      [{ organizationId: "direct", models: { models: ["smart-model"] } }, "models [smart-model] are not among organization direct's models [fast-model]"],
    ];
    for (const [settings, message] of refusals) {
      expect(await refused(client().generateKey({ settings }, asMaster))).toMatchObject({ code: Code.InvalidArgument, rawMessage: expect.stringContaining(message) });
    }
    // Deleting the organization deletes the keys that name it.
    const deleted = await client().deleteOrganizations({ organizationIds: ["direct"] }, asMaster);
    expect(deleted.deletedKeyHashes).toContain(minted.info!.keyHash);
    await expect(ask(minted.key)).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("are put in an organization by a user of it only", async () => {
    await createOrganization("club");
    await client().createUser({ userId: "club-member" }, asMaster);
    await client().createUser({ userId: "club-outsider" }, asMaster);
    await client().addOrganizationMembers({ organizationId: "club", membersJson: '[{"role":"internal_user","user_id":"club-member"}]' }, asMaster);
    const member = (await client().generateKey({ settings: { userId: "club-member" } }, asMaster)).key;
    const outsider = (await client().generateKey({ settings: { userId: "club-outsider" } }, asMaster)).key;
    expect((await client().generateKey({ settings: { organizationId: "club" } }, as(member))).info?.organizationId).toBe("club");
    expect(await refused(client().generateKey({ settings: { organizationId: "club" } }, as(outsider)))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "User=club-outsider is not a member of organization=club",
    });
  });
});

describe("organization members", () => {
  it("begins the membership anew for a member removed and added back within the same millisecond", async () => {
    await createOrganization("revolving");
    const add = () => client().addOrganizationMembers({ organizationId: "revolving", membersJson: '[{"role":"internal_user","user_id":"revolver"}]', maxBudgetInOrganization: 1 }, asMaster);
    const now = vi.spyOn(Date, "now").mockReturnValue(Date.now());
    const stamps: string[] = [];
    try {
      await add();
      stamps.push((await memberBudget("revolving", "revolver")).allowanceId);
      await client().removeOrganizationMember({ organizationId: "revolving", userId: "revolver" }, asMaster);
      await add();
      stamps.push((await memberBudget("revolving", "revolver")).allowanceId);
    } finally {
      now.mockRestore();
    }
    expect(stamps[1]).not.toBe(stamps[0]);
  });

  it("adds members (making users that do not exist), refuses one already in, and changes and removes them", async () => {
    await createOrganization("people");
    await client().createUser({ userId: "known", settings: { userEmail: "known@example.com" } }, asMaster);
    const added = await client().addOrganizationMembers(
      { organizationId: "people", membersJson: '[{"role":"org_admin","user_email":"known@example.com"},{"role":"internal_user","user_id":"newcomer"}]' },
      asMaster,
    );
    expect(added.userIds).toEqual(["known", "newcomer"]);
    expect(members(added.organization)).toEqual([
      { user_id: "known", user_email: "known@example.com", user_role: "org_admin" },
      { user_id: "newcomer", user_role: "internal_user" },
    ]);
    expect((await client().getUser({ userId: "newcomer" }, asMaster)).user?.userRole).toBe("internal_user");
    expect(await refused(client().addOrganizationMembers({ organizationId: "people", membersJson: '[{"role":"internal_user","user_id":"newcomer"}]' }, asMaster))).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "already a member of organization people: newcomer",
    });
    expect(await refused(client().addOrganizationMembers({ organizationId: "people", membersJson: '[{"role":"proxy_admin","user_id":"x"}]' }, asMaster))).toMatchObject({
      code: Code.InvalidArgument,
    });
    const updated = await client().updateOrganizationMember({ organizationId: "people", userId: "newcomer", role: "internal_user_viewer", maxBudgetInOrganization: 3 }, asMaster);
    expect(members(updated.organization)).toContainEqual({ user_id: "newcomer", user_role: "internal_user_viewer", max_budget_in_organization: 3 });
    const removed = await client().removeOrganizationMember({ organizationId: "people", userEmail: "known@example.com" }, asMaster);
    expect(members(removed.organization)).toEqual([{ user_id: "newcomer", user_role: "internal_user_viewer", max_budget_in_organization: 3 }]);
    expect(await refused(client().removeOrganizationMember({ organizationId: "people", userId: "known" }, asMaster))).toMatchObject({ code: Code.NotFound });
  });

  it("keeps every member added at once, on either replica, and makes each new user once", async () => {
    await createOrganization("crowd");
    const other = await service.replica();
    try {
      const replicas = [client(), clientOf(other)];
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          replicas[i % 2]!.addOrganizationMembers({ organizationId: "crowd", membersJson: `[{"role":"internal_user","user_id":"crowd-${i}"}]` }, asMaster),
        ),
      );
    } finally {
      await other.stop();
    }
    const added = members((await client().getOrganization({ organizationId: "crowd" }, asMaster)).organization) as { user_id: string }[];
    expect(added.map((m) => m.user_id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `crowd-${i}`).sort());
    const users = await client().listUsers({ userIds: added.map((m) => m.user_id), pageSize: 100 }, asMaster);
    expect(users.users).toHaveLength(10);
  });

  it("lets an org_admin manage its organization's members, and members read it", async () => {
    await createOrganization("managed");
    await client().createUser({ userId: "lead" }, asMaster);
    await client().createUser({ userId: "member" }, asMaster);
    await client().addOrganizationMembers({ organizationId: "managed", membersJson: '[{"role":"org_admin","user_id":"lead"},{"role":"internal_user","user_id":"member"}]' }, asMaster);
    const lead = (await client().generateKey({ settings: { userId: "lead" } }, asMaster)).key;
    const member = (await client().generateKey({ settings: { userId: "member" } }, asMaster)).key;
    await client().addOrganizationMembers({ organizationId: "managed", membersJson: '[{"role":"internal_user","user_id":"hire"}]' }, as(lead));
    expect(await refused(client().addOrganizationMembers({ organizationId: "managed", membersJson: '[{"role":"org_admin","user_id":"member-friend"}]' }, as(member)))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "Only a proxy admin or an org_admin of organization=managed may change its members and teams",
    });
    expect(await refused(client().addOrganizationMembers({ organizationId: "acme", membersJson: '[{"role":"internal_user","user_id":"x"}]' }, as(lead)))).toMatchObject({
      code: Code.PermissionDenied,
    });
    // An org_admin makes teams in its organization, and nowhere else.
    expect((await client().createTeam({ teamId: "managed-team", settings: { organizationId: "managed" } }, as(lead))).team?.organizationId).toBe("managed");
    expect(await refused(client().createTeam({ teamId: "elsewhere", settings: { organizationId: "acme" } }, as(lead)))).toMatchObject({ code: Code.PermissionDenied });
    expect(await refused(client().createTeam({ teamId: "loose" }, as(lead)))).toMatchObject({ code: Code.PermissionDenied, rawMessage: expect.stringContaining("Only the master key or a proxy_admin") });
    expect(await refused(client().createTeam({ teamId: "member-team", settings: { organizationId: "managed" } }, as(member)))).toMatchObject({ code: Code.PermissionDenied });
    // It is an admin of every team of its organization: it adds their members, makes keys in them for those, and reads them.
    await client().addTeamMembers({ teamId: "managed-team", membersJson: '[{"role":"user","user_id":"member"}]' }, as(lead));
    const minted = await client().generateKey({ settings: { teamId: "managed-team", userId: "member" } }, as(lead));
    expect(minted.info).toMatchObject({ teamId: "managed-team", userId: "member" });
    expect((await client().listTeams({}, as(lead))).teams.map((t) => t.teamId)).toEqual(["managed-team"]);
    expect((await client().getTeam({ teamId: "managed-team" }, as(lead))).keys.map((k) => k.keyHash)).toEqual([minted.info!.keyHash]);
    expect((await client().listKeys({ teamId: "managed-team" }, as(lead))).keys.map((k) => k.keyHash)).toEqual([minted.info!.keyHash]);
    expect((await client().listKeys({ organizationId: "managed" }, as(lead))).keys.map((k) => k.keyHash)).toEqual([minted.info!.keyHash]);
    expect(await refused(client().addTeamMembers({ teamId: "managed-team", membersJson: '[{"role":"user","user_id":"x"}]' }, as(member)))).toMatchObject({ code: Code.PermissionDenied });
    expect((await client().getOrganization({ organizationId: "managed" }, as(member))).organization?.organizationId).toBe("managed");
    expect((await client().listOrganizations({}, as(member))).organizations.map((o) => o.organizationId)).toEqual(["managed"]);
  });

  it("holds a member's keys in the organization's teams to its max_budget_in_organization", async () => {
    await createOrganization("allowance");
    await client().addOrganizationMembers({ organizationId: "allowance", membersJson: '[{"role":"internal_user","user_id":"spender"}]', maxBudgetInOrganization: RESERVATION * 1.5 }, asMaster);
    const mine = await teamKey("allowance", "allowance-a", "spender");
    await client().createTeam({ teamId: "allowance-b", settings: { organizationId: "allowance" } }, asMaster);
    const again = (await client().generateKey({ settings: { teamId: "allowance-b", userId: "spender" } }, asMaster)).key;
    const other = (await client().generateKey({ settings: { teamId: "allowance-b" } }, asMaster)).key;
    const first = await ask(mine.key, "fast-model", "allowance-1");
    await client().release({ requestId: "allowance-1", keyHash: mine.hash, holder: first.holder, cost: RESERVATION * 2 });
    expect(entryObject((await client().getOrganization({ organizationId: "allowance" }, asMaster)).memberSpend)).toEqual({ spender: RESERVATION * 2 });
    expect((await client().getUser({ userId: "spender" }, asMaster)).organizationMemberships).toEqual([
      expect.objectContaining({ organizationId: "allowance", userRole: "internal_user", maxBudgetInOrganization: RESERVATION * 1.5, spend: RESERVATION * 2 }),
    ]);
    await expect(ask(again)).rejects.toMatchObject({ code: Code.FailedPrecondition, rawMessage: expect.stringContaining("User=spender in Organization=allowance") });
    // Keys of others in the same teams are not held to it.
    expect((await ask(other)).reserved).toBe(false);
  });

  it("is not given back, added again, what a replica still held of the budget of the membership removed", async () => {
    await createOrganization("rejoining");
    const budget = RESERVATION * 100;
    const add = () =>
      client().addOrganizationMembers({ organizationId: "rejoining", membersJson: '[{"role":"internal_user","user_id":"returner"}]', maxBudgetInOrganization: budget }, asMaster);
    await add();
    const key = await teamKey("rejoining", "rejoining-team", "returner");
    const removed = await memberBudget("rejoining", "returner");
    // A replica takes a tenth of the member's budget for one request, and holds the rest unused.
    const held = heldReplica(service.database());
    let renewed: string;
    let taken: number;
    try {
      await held.limits.admit([removed], "returner-held", { tokens: 20, maxCost: RESERVATION });
      held.limits.settle("returner-held", RESERVATION, 20);
      await client().removeOrganizationMember({ organizationId: "rejoining", userId: "returner" }, asMaster);
      await add();
      const auth = await ask(key.key, "fast-model", "returner-1");
      await client().release({ requestId: "returner-1", keyHash: key.hash, holder: auth.holder, cost: RESERVATION });
      renewed = (await memberBudget("rejoining", "returner")).allowanceId;
      taken = await granted(service.database(), renewed);
    } finally {
      // Stopping, it gives back what it held unused to the allowance it took from.
      await held.stop();
    }
    expect(taken).toBeGreaterThan(0);
    expect(await granted(service.database(), renewed)).toBe(taken);
    const after = await client().getOrganization({ organizationId: "rejoining" }, asMaster);
    expect(entryObject(after.memberSpend)).toEqual({ returner: RESERVATION });
    // When the membership began stays out of the answer.
    expect(members(after.organization)).toEqual([{ user_id: "returner", user_role: "internal_user", max_budget_in_organization: budget }]);
    expect(renewed).not.toBe(removed.allowanceId);
  });

  it("loses a member whose user is deleted, and what it spent there", async () => {
    await createOrganization("leaving");
    const add = (userId: string) =>
      client().addOrganizationMembers({ organizationId: "leaving", membersJson: `[{"role":"internal_user","user_id":"${userId}"}]`, maxBudgetInOrganization: 1 }, asMaster);
    await add("leaver");
    await add("stayer");
    const key = await teamKey("leaving", "leaving-team", "leaver");
    const auth = await ask(key.key, "fast-model", "leaver-1");
    await client().release({ requestId: "leaver-1", keyHash: key.hash, holder: auth.holder, cost: 0.25 });
    expect(entryObject((await client().getOrganization({ organizationId: "leaving" }, asMaster)).memberSpend)).toEqual({ leaver: 0.25, stayer: 0 });
    await client().deleteUsers({ userIds: ["leaver"] }, asMaster);
    const after = await client().getOrganization({ organizationId: "leaving" }, asMaster);
    expect(members(after.organization)).toEqual([{ user_id: "stayer", user_role: "internal_user", max_budget_in_organization: 1 }]);
    // Made and added again, the user starts from nothing.
    await add("leaver");
    expect(entryObject((await client().getOrganization({ organizationId: "leaving" }, asMaster)).memberSpend)).toEqual({ leaver: 0, stayer: 0 });
  });
});
