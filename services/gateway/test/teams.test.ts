import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// LiteLLM's teams through the gateway in one process, on Postgres and NATS:
// the /team/* routes, and what a team does to its keys' model calls.

let provider: FakeProvider;
let gateway: RunningGateway;
let database: TestDatabase;
let bus: TestBus;
let baseUrl: string;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  bus = await createTestBus();
  const deployment = (name: string, model: string) => `
  - model_name: ${name}
    litellm_params:
      model: openai/${model}
      api_base: ${provider.url}/v1
      api_key: os.environ/FAKE_PROVIDER_KEY`;
  const config = writeConfig(`
model_list:${deployment("fast-model", "gpt-4o-mini")}${deployment("smart-model", "gpt-4o")}
litellm_settings:
  default_internal_user_params: { available_teams: [open-team, open-team-2, never-made] }
general_settings:
  master_key: ${MASTER_KEY}
`);
  gateway = await startGateway(gatewayOptions("all", config, { databaseUrl: database.url, nats: bus }));
  baseUrl = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

interface TeamJson {
  team_id: string;
  team_alias: string | null;
  models: string[];
  max_budget: number | null;
  budget_duration: string | null;
  budget_reset_at: string | null;
  rpm_limit: number | null;
  members_with_roles: { role: string; user_id?: string; user_email?: string }[];
  blocked: boolean;
  spend: number;
}

const client = (key: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 });
const ask = (key: string, model = "fast-model") =>
  client(key).chat.completions.create({ model, messages: [{ role: "user", content: "team" }], max_tokens: 10 });

async function newTeam(body: Record<string, unknown>): Promise<TeamJson> {
  const { status, json } = await admin<TeamJson>(baseUrl, "POST", "/team/new", body);
  expect(status).toBe(200);
  return json;
}

async function generate(body: Record<string, unknown>): Promise<GeneratedKey> {
  const { status, json } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", body);
  expect(status).toBe(200);
  return json;
}

const teamInfo = (teamId: string) => admin<{ team_id: string; team_info: TeamJson; keys: { token: string; spend: number }[] }>(baseUrl, "GET", `/team/info?team_id=${teamId}`);

describe("teams", () => {
  it("creates, shows, lists and updates a team as LiteLLM's routes do", async () => {
    const made = await newTeam({ team_alias: "research", models: ["fast-model"], max_budget: 10, budget_duration: "30d", rpm_limit: 100, metadata: { cost_center: "r&d" } });
    expect(made).toMatchObject({ team_alias: "research", models: ["fast-model"], max_budget: 10, budget_duration: "30d", rpm_limit: 100, blocked: false, spend: 0 });
    expect(made.team_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(made.budget_reset_at!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const chosen = await newTeam({ team_id: "homelab", members_with_roles: [{ role: "admin", user_id: "ana" }] });
    expect(chosen).toMatchObject({ team_id: "homelab", members_with_roles: [{ role: "admin", user_id: "ana" }] });
    const again = await admin(baseUrl, "POST", "/team/new", { team_id: "homelab" });
    expect(again.status).toBe(400);

    const listed = await admin<TeamJson[]>(baseUrl, "GET", "/team/list");
    expect(listed.json.map((t) => t.team_id)).toEqual(expect.arrayContaining([made.team_id, "homelab"]));

    const updated = await admin<{ team_id: string; data: TeamJson }>(baseUrl, "POST", "/team/update", { team_id: "homelab", max_budget: 3, team_alias: "home" });
    expect(updated.json).toMatchObject({ team_id: "homelab", data: { max_budget: 3, team_alias: "home" } });
    const cleared = await admin<{ data: TeamJson }>(baseUrl, "POST", "/team/update", { team_id: "homelab", max_budget: null });
    expect(cleared.json.data.max_budget).toBeNull();

    expect((await teamInfo("no-such-team")).status).toBe(404);
    expect((await admin(baseUrl, "POST", "/team/update", { team_id: "no-such-team", max_budget: 1 })).status).toBe(404);
  });

  it("keeps members: adds new ones, refuses ones already in, removes them", async () => {
    await newTeam({ team_id: "members" });
    const added = await admin<TeamJson>(baseUrl, "POST", "/team/member_add", { team_id: "members", member: [{ role: "user", user_id: "bo" }, { role: "admin", user_email: "cy@example.com" }] });
    expect(added.status).toBe(200);
    expect(added.json.members_with_roles).toEqual([{ role: "user", user_id: "bo" }, { role: "admin", user_email: "cy@example.com", user_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
    expect((await admin(baseUrl, "POST", "/team/member_add", { team_id: "members", member: { role: "admin", user_id: "bo" } })).status).toBe(400);
    expect((await admin(baseUrl, "POST", "/team/member_add", { team_id: "members", member: { role: "owner", user_id: "di" } })).status).toBe(400);
    // Added at once (say, by a script on two replicas): none is lost.
    const atOnce = await Promise.all(Array.from({ length: 8 }, (_, i) => admin(baseUrl, "POST", "/team/member_add", { team_id: "members", member: { role: "user", user_id: `u${i}` } })));
    expect(atOnce.map((r) => r.status)).toEqual(Array(8).fill(200));
    const removed = await admin<TeamJson>(baseUrl, "POST", "/team/member_delete", { team_id: "members", user_id: "bo" });
    expect(removed.json.members_with_roles.map((m) => m.user_email ?? m.user_id).sort()).toEqual(["cy@example.com", ...Array.from({ length: 8 }, (_, i) => `u${i}`)].sort());
    expect((await admin(baseUrl, "POST", "/team/member_delete", { team_id: "members", user_id: "bo" })).status).toBe(400);
  });

  it("makes the users members name, as LiteLLM does, and answers them as updated_users", async () => {
    interface UserJson {
      user_id: string;
      user_email: string | null;
      user_role: string;
      spend: number;
    }
    type Added = TeamJson & { updated_users: UserJson[]; updated_team_memberships: { user_id: string; litellm_budget_table: { max_budget: number } }[] };
    await newTeam({ team_id: "makes-users" });
    const added = await admin<Added>(baseUrl, "POST", "/team/member_add", {
      team_id: "makes-users",
      member: [{ role: "user", user_id: "new-by-id" }, { role: "user", user_email: "New.By@Email.io" }],
      max_budget_in_team: 2,
    });
    expect(added.status).toBe(200);
    const byEmail = added.json.members_with_roles.find((m) => m.user_email === "New.By@Email.io")!.user_id!;
    expect(added.json.updated_users.map((u) => [u.user_id, u.user_email, u.user_role, u.spend]).sort()).toEqual(
      [["new-by-id", null, "internal_user", 0], [byEmail, "New.By@Email.io", "internal_user", 0]].sort(),
    );
    expect(added.json.updated_team_memberships.map((m) => [m.user_id, m.litellm_budget_table.max_budget]).sort()).toEqual([["new-by-id", 2], [byEmail, 2]].sort());
    const info = await admin<{ user_id: string; teams: { team_id: string }[] }>(baseUrl, "GET", `/user/info?user_id=${byEmail}`);
    expect(info.json.teams.map((t) => t.team_id)).toEqual(["makes-users"]);

    // The same email, in any case, is that user; an existing user is not made again.
    await newTeam({ team_id: "makes-users-2", members_with_roles: [{ role: "admin", user_email: "new.by@email.io" }, { role: "user", user_id: "new-by-id" }, { role: "user", user_id: "team-new-made" }] });
    const second = (await teamInfo("makes-users-2")).json.team_info.members_with_roles;
    expect(second.map((m) => m.user_id)).toEqual([byEmail, "new-by-id", "team-new-made"]);
    expect((await admin(baseUrl, "GET", "/user/info?user_id=team-new-made")).status).toBe(200);

    // A new email added to several teams at once is one user.
    const teams = ["race-1", "race-2", "race-3", "race-4", "race-5", "race-6"];
    for (const team_id of teams) await newTeam({ team_id });
    const raced = await Promise.all(teams.map((team_id) => admin<Added>(baseUrl, "POST", "/team/member_add", { team_id, member: { role: "user", user_email: "raced@example.com" } })));
    expect(raced.map((r) => r.status)).toEqual(teams.map(() => 200));
    expect(new Set(raced.map((r) => r.json.members_with_roles[0]!.user_id)).size).toBe(1);
    const listed = await admin<{ users: UserJson[] }>(baseUrl, "GET", "/user/list?user_email=raced@example.com");
    expect(listed.json.users.map((u) => u.user_id)).toEqual([raced[0]!.json.members_with_roles[0]!.user_id]);

    // No team, no user; nor from a team_id already in use.
    expect((await admin(baseUrl, "POST", "/team/member_add", { team_id: "no-such-team", member: { role: "user", user_id: "orphan" } })).status).toBe(404);
    expect((await admin(baseUrl, "GET", "/user/info?user_id=orphan")).status).toBe(404);
    expect((await admin(baseUrl, "POST", "/team/new", { team_id: "makes-users", members_with_roles: [{ role: "user", user_id: "orphan" }] })).status).toBe(400);
    expect((await admin(baseUrl, "GET", "/user/info?user_id=orphan")).status).toBe(404);
  });

  it("holds a team's keys to the team's models, and lists only those they may use", async () => {
    await newTeam({ team_id: "fast-only", models: ["fast-model"] });
    const refused = await admin(baseUrl, "POST", "/key/generate", { team_id: "fast-only", models: ["smart-model"] });
    expect(refused.status).toBe(400);
    expect((await admin(baseUrl, "POST", "/key/generate", { team_id: "no-such-team" })).status).toBe(400);

    const key = await generate({ team_id: "fast-only" });
    expect((await ask(key.key)).choices[0]?.message.content).toBe("Echo: team");
    await expect(ask(key.key, "smart-model")).rejects.toMatchObject({ status: 401, error: { type: "team_model_access_denied" } });
    const models = await client(key.key).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["fast-model"]);

    // Widening the team lets its keys use more at once.
    await admin(baseUrl, "POST", "/team/update", { team_id: "fast-only", models: [] });
    expect((await ask(key.key, "smart-model")).model).toBeDefined();
  });

  it("stops every key of a blocked team until it is unblocked", async () => {
    await newTeam({ team_id: "blockable" });
    const [a, b] = [await generate({ team_id: "blockable" }), await generate({ team_id: "blockable" })];
    await ask(a.key);
    expect((await admin<TeamJson>(baseUrl, "POST", "/team/block", { team_id: "blockable" })).json.blocked).toBe(true);
    for (const k of [a, b]) await expect(ask(k.key)).rejects.toMatchObject({ status: 401, code: "team_blocked" });
    expect((await admin<TeamJson>(baseUrl, "POST", "/team/unblock", { team_id: "blockable" })).json.blocked).toBe(false);
    expect((await ask(b.key)).choices[0]?.message.content).toBe("Echo: team");
  });

  it("shares the team's budget among its keys, and refuses them all once it is spent", async () => {
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "team" }], max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    // Room for one request's most; once it settles at its real cost, not for another.
    await newTeam({ team_id: "budgeted", max_budget: reservation + 0.9e-6 });
    const [a, b] = [await generate({ team_id: "budgeted" }), await generate({ team_id: "budgeted" })];
    await ask(a.key);
    const spent = (await teamInfo("budgeted")).json.team_info.spend;
    expect(spent).toBeGreaterThan(0);
    // What is left no longer covers another request's most, by either key.
    await expect(ask(b.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Budget has been exceeded! Team=budgeted") });
    await expect(ask(a.key)).rejects.toMatchObject({ status: 400 });
    // A key's own budget still applies on top of the team's.
    await newTeam({ team_id: "roomy", max_budget: 100 });
    const capped = await generate({ team_id: "roomy", max_budget: reservation / 2 });
    await expect(ask(capped.key)).rejects.toMatchObject({ status: 400, message: expect.not.stringContaining("Team=") });
  });

  it("holds a member's keys in the team to its max_budget_in_team, which /team/member_update changes", async () => {
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "team" }], max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    await newTeam({ team_id: "members-budget", max_budget: 100 });
    const added = await admin<TeamJson>(baseUrl, "POST", "/team/member_add", {
      team_id: "members-budget",
      member: [{ role: "user", user_id: "ann" }],
      max_budget_in_team: reservation + 0.9e-6,
    });
    expect(added.json.members_with_roles).toEqual([{ role: "user", user_id: "ann", max_budget_in_team: reservation + 0.9e-6 }]);
    await admin(baseUrl, "POST", "/team/member_add", { team_id: "members-budget", member: { role: "user", user_id: "ben" } });
    const [ann1, ann2, ben] = [
      await generate({ team_id: "members-budget", user_id: "ann" }),
      await generate({ team_id: "members-budget", user_id: "ann" }),
      await generate({ team_id: "members-budget", user_id: "ben" }),
    ];
    await ask(ann1.key);
    await expect(ask(ann2.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Budget has been exceeded! User=ann in Team=members-budget") });
    expect((await ask(ben.key)).choices[0]?.message.content).toBe("Echo: team");
    const info = await admin<{ team_memberships: { user_id: string; spend: number; litellm_budget_table: { max_budget: number } }[] }>(baseUrl, "GET", "/team/info?team_id=members-budget");
    expect(info.json.team_memberships).toEqual([{ team_id: "members-budget", user_id: "ann", spend: expect.any(Number), litellm_budget_table: { max_budget: reservation + 0.9e-6, budget_duration: null, tpm_limit: null, rpm_limit: null } }]);
    expect(info.json.team_memberships[0]!.spend).toBeGreaterThan(0.9e-6);
    const updated = await admin(baseUrl, "POST", "/team/member_update", { team_id: "members-budget", user_id: "ann", max_budget_in_team: 1 });
    expect(updated.json).toEqual({ team_id: "members-budget", user_id: "ann", user_email: null, max_budget_in_team: 1, tpm_limit: null, rpm_limit: null });
    expect((await ask(ann2.key)).choices[0]?.message.content).toBe("Echo: team");
    expect((await admin(baseUrl, "POST", "/team/member_update", { team_id: "members-budget", user_id: "nobody", max_budget_in_team: 1 })).status).toBe(400);
  });

  it("keeps a member's and a model's budget spent when their periods change (team_member_budget_duration, time_period)", async () => {
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "team" }], max_tokens: 10 }));
    const oneRequest = bodyBytes * 0.15e-6 + 10 * 0.6e-6 + 0.9e-6;
    await newTeam({ team_id: "moving-periods" });
    await admin(baseUrl, "POST", "/team/member_add", { team_id: "moving-periods", member: { role: "user", user_id: "pam" }, max_budget_in_team: oneRequest });
    const pam = await generate({ team_id: "moving-periods", user_id: "pam" });
    await ask(pam.key);
    await expect(ask(pam.key)).rejects.toMatchObject({ status: 400 });
    expect((await admin(baseUrl, "POST", "/team/update", { team_id: "moving-periods", team_member_budget_duration: "1d" })).status).toBe(200);
    await expect(ask(pam.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("User=pam in Team=moving-periods") });

    const modelled = await generate({ model_max_budget: { "fast-model": { budget_limit: oneRequest } } });
    await ask(modelled.key);
    await expect(ask(modelled.key)).rejects.toMatchObject({ status: 400 });
    const changed = await admin(baseUrl, "POST", "/key/update", { key: modelled.key, model_max_budget: { "fast-model": { budget_limit: oneRequest, time_period: "1d" } } });
    expect(changed.status).toBe(200);
    await expect(ask(modelled.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Model=fast-model") });
  });

  it("holds members without limits of their own to the team's team_member_* defaults, and times its members' keys", async () => {
    const made = await newTeam({
      team_id: "member-defaults",
      team_member_budget: 0,
      team_member_budget_duration: "30d",
      team_member_rpm_limit: 1,
      team_member_key_duration: "1h",
      members_with_roles: [{ role: "user", user_id: "md-default" }, { role: "user", user_id: "md-own", max_budget_in_team: 10 }],
    });
    expect(made).toMatchObject({ team_member_budget: 0, team_member_budget_duration: "30d", team_member_rpm_limit: 1, team_member_tpm_limit: null, team_member_key_duration: "1h" });
    const byDefault = await generate({ team_id: "member-defaults", user_id: "md-default" });
    const own = await generate({ team_id: "member-defaults", user_id: "md-own" });
    // team_member_key_duration, unless the key says otherwise.
    expect(Date.parse(byDefault.expires!) - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(Date.parse(byDefault.expires!) - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect((await generate({ team_id: "member-defaults", user_id: "md-own", duration: null })).expires).toBeNull();
    expect((await generate({ team_id: "member-defaults" })).expires).toBeNull();

    await expect(ask(byDefault.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("Budget has been exceeded! User=md-default in Team=member-defaults") });
    await ask(own.key);
    await expect(ask(own.key)).rejects.toMatchObject({ status: 429, message: expect.stringContaining("team member") });
    const info = await admin<{ team_memberships: { user_id: string; litellm_budget_table: Record<string, unknown> }[] }>(baseUrl, "GET", "/team/info?team_id=member-defaults");
    expect(info.json.team_memberships.map((m) => [m.user_id, m.litellm_budget_table])).toEqual([
      ["md-default", { max_budget: 0, budget_duration: "30d", tpm_limit: null, rpm_limit: 1 }],
      ["md-own", { max_budget: 10, budget_duration: "30d", tpm_limit: null, rpm_limit: 1 }],
    ]);

    // Taken away, the defaults hold no one.
    const cleared = await admin<{ data: TeamJson }>(baseUrl, "POST", "/team/update", { team_id: "member-defaults", team_member_budget: null, team_member_rpm_limit: null });
    expect(cleared.json.data).toMatchObject({ team_member_budget: null, team_member_rpm_limit: null });
    expect((await ask(byDefault.key)).choices).toHaveLength(1);
    expect((await admin(baseUrl, "POST", "/team/update", { team_id: "member-defaults", team_member_budget_duration: "fortnight" })).status).toBe(400);
  });

  it("shows a team without a budget the ledger's spend over its keys, and each key's own", async () => {
    await newTeam({ team_id: "ledgered" });
    const [a, b] = [await generate({ team_id: "ledgered" }), await generate({ team_id: "ledgered" })];
    await ask(a.key);
    await ask(b.key);
    await ask(b.key);
    // Each request costs the same, so all three are booked once b's key shows twice a's spend, and
    // the team three times a's (the team's and the keys' spend are read side by side, so one read
    // may land just before a ledger batch and the other just after).
    const info = await eventually("the ledger to book the team's three requests", async () => {
      const { json } = await teamInfo("ledgered");
      const spendOf = (token: string) => json.keys.find((k) => k.token === token)?.spend ?? 0;
      const booked = spendOf(a.token) > 0 && Math.abs(spendOf(b.token) - 2 * spendOf(a.token)) < 1e-12;
      return booked && Math.abs(json.team_info.spend - 3 * spendOf(a.token)) < 1e-12 ? json : undefined;
    });
    expect(info.keys.map((k) => k.token).sort()).toEqual([a.token, b.token].sort());
    expect(info.team_info.spend).toBeCloseTo(info.keys[0]!.spend + info.keys[1]!.spend, 12);
  });

  it("lets a team's key read its own team, and no other", async () => {
    await newTeam({ team_id: "readable" });
    const key = await generate({ team_id: "readable" });
    const own = await fetch(`${baseUrl}/team/info?team_id=readable`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(own.status).toBe(200);
    const other = await fetch(`${baseUrl}/team/info?team_id=homelab`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(other.status).toBe(403);
    const list = await fetch(`${baseUrl}/team/list`, { headers: { authorization: `Bearer ${key.key}` } });
    expect(list.status).toBe(401);
  });

  it("deletes a team with its keys", async () => {
    await newTeam({ team_id: "doomed" });
    const key = await generate({ team_id: "doomed" });
    await ask(key.key);
    expect((await admin(baseUrl, "POST", "/team/delete", { team_ids: ["doomed", "no-such-team"] })).status).toBe(404);
    await ask(key.key);
    const deleted = await admin<{ deleted_teams: string[]; deleted_keys: string[] }>(baseUrl, "POST", "/team/delete", { team_ids: ["doomed"] });
    expect(deleted.json).toEqual({ deleted_teams: ["doomed"], deleted_keys: [key.token] });
    await expect(ask(key.key)).rejects.toMatchObject({ status: 401 });
    expect((await teamInfo("doomed")).status).toBe(404);
  });

  it("adds models to a team and takes them out (/team/model/add, /team/model/delete), for admins and the team's admins", async () => {
    await newTeam({ team_id: "modelled", models: ["fast-model"], members_with_roles: [{ role: "admin", user_id: "mo-admin" }, { role: "user", user_id: "mo-user" }] });
    const teamKey = await generate({ team_id: "modelled" });
    await expect(ask(teamKey.key, "smart-model")).rejects.toMatchObject({ status: 401, error: { type: "team_model_access_denied" } });

    const added = await admin<TeamJson>(baseUrl, "POST", "/team/model/add", { team_id: "modelled", models: ["smart-model", "fast-model"] });
    expect(added.status).toBe(200);
    expect(added.json.models).toEqual(["fast-model", "smart-model"]);
    expect((await ask(teamKey.key, "smart-model")).choices).toHaveLength(1);

    // The team's admin may; a member may not (each a user /team/new made).
    const keyOf = async (userId: string) => (await generate({ user_id: userId })).key;
    const asUser = async (userId: string, path: string, body: unknown) => {
      const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${await keyOf(userId)}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as TeamJson & { error: { message: string } } };
    };
    const byAdmin = await asUser("mo-admin", "/team/model/delete", { team_id: "modelled", models: ["fast-model"] });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.json.models).toEqual(["smart-model"]);
    await expect(ask(teamKey.key, "fast-model")).rejects.toMatchObject({ status: 401, error: { type: "team_model_access_denied" } });
    const byMember = await asUser("mo-user", "/team/model/add", { team_id: "modelled", models: ["fast-model"] });
    expect(byMember.status).toBe(403);
    expect(byMember.json.error.message).toBe("Only a proxy admin or an admin of team=modelled may change its models");

    // Taking out the last model would let the team use every model: refused.
    const last = await admin<{ error: { message: string } }>(baseUrl, "POST", "/team/model/delete", { team_id: "modelled", models: ["smart-model"] });
    expect(last.status).toBe(400);
    expect(last.json.error.message).toMatch(/would let it use every model/);
    // A team without models keeps every model when some are added, as in LiteLLM.
    await newTeam({ team_id: "unrestricted" });
    expect((await admin<TeamJson>(baseUrl, "POST", "/team/model/add", { team_id: "unrestricted", models: ["fast-model"] })).json.models).toEqual(["all-proxy-models", "fast-model"]);
    expect((await admin(baseUrl, "POST", "/team/model/add", { team_id: "no-such-team", models: ["fast-model"] })).status).toBe(404);
  });

  it("makes a team's service account keys, which belong to no user, for admins and the team's admins", async () => {
    await newTeam({ team_id: "serviced", members_with_roles: [{ role: "admin", user_id: "sa-admin" }, { role: "user", user_id: "sa-user" }] });
    const made = await admin<GeneratedKey & { user_id: string | null; team_id: string }>(baseUrl, "POST", "/key/service-account/generate", {
      team_id: "serviced",
      key_alias: "nightly-job",
      user_id: "sa-user",
    });
    expect(made.status).toBe(200);
    // A user_id given is dropped: the key is the team's alone.
    expect(made.json).toMatchObject({ team_id: "serviced", user_id: null, key_alias: "nightly-job" });
    expect((await ask(made.json.key)).choices).toHaveLength(1);

    const asUser = async (userId: string, path: string, body: unknown) => {
      const { key } = await generate({ user_id: userId });
      const res = await fetch(`${baseUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as GeneratedKey & { user_id: string | null; error: { message: string } } };
    };
    const byAdmin = await asUser("sa-admin", "/key/service-account/generate", { team_id: "serviced" });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.json.user_id).toBeNull();
    // The team's admin may change the team's keys of no user, as it may its members'.
    expect((await asUser("sa-admin", "/key/update", { key: byAdmin.json.key, key_alias: "renamed-job" })).status).toBe(200);
    const byMember = await asUser("sa-user", "/key/service-account/generate", { team_id: "serviced" });
    expect(byMember.status).toBe(403);
    expect(byMember.json.error.message).toBe("Only a proxy admin or an admin of team=serviced may change its service account keys");

    const noTeam = await admin<{ error: { message: string; param: string } }>(baseUrl, "POST", "/key/service-account/generate", { key_alias: "orphan" });
    expect(noTeam.status).toBe(400);
    expect(noTeam.json.error).toMatchObject({ message: "team_id is required for service account keys", param: "team_id" });
    expect((await admin(baseUrl, "POST", "/key/service-account/generate", { team_id: "no-such-team" })).status).toBe(400);
  });

  it("applies every model change made at once", async () => {
    await newTeam({ team_id: "many-models", models: ["fast-model"] });
    const names = Array.from({ length: 10 }, (_, i) => `group-${i}`);
    const atOnce = await Promise.all(names.map((name) => admin(baseUrl, "POST", "/team/model/add", { team_id: "many-models", models: [name] })));
    expect(atOnce.map((r) => r.status)).toEqual(Array(10).fill(200));
    const taken = await Promise.all(names.slice(0, 5).map((name) => admin(baseUrl, "POST", "/team/model/delete", { team_id: "many-models", models: [name] })));
    expect(taken.map((r) => r.status)).toEqual(Array(5).fill(200));
    expect([...(await teamInfo("many-models")).json.team_info.models].sort()).toEqual(["fast-model", ...names.slice(5)].sort());
  });

  it("lets a user join an available team by itself, as a member, and no other team or way (/team/available)", async () => {
    await newTeam({ team_id: "open-team", max_budget: 5 });
    await newTeam({ team_id: "open-team-2" });
    await newTeam({ team_id: "closed-team" });
    const user = await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: "joiner" });
    const as = <T>(method: "GET" | "POST", path: string, body?: unknown) =>
      fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${user.json.key}`, "content-type": "application/json" }, ...(body !== undefined && { body: JSON.stringify(body) }) }).then(
        async (res) => ({ status: res.status, json: (await res.json()) as T }),
      );
    const available = await as<TeamJson[]>("GET", "/team/available");
    expect(available.status).toBe(200);
    expect(available.json.map((t) => t.team_id).sort()).toEqual(["open-team", "open-team-2"]);
    expect(available.json.find((t) => t.team_id === "open-team")).toMatchObject({ max_budget: 5, spend: 0 });

    // Not as an admin, not with a budget of its own, not for someone else, not into another team.
    for (const [team_id, member] of [
      ["open-team", { role: "admin", user_id: "joiner" }],
      ["open-team", { role: "user", user_id: "joiner", max_budget_in_team: 100 }],
      ["open-team", { role: "user", user_id: "someone-else" }],
      ["closed-team", { role: "user", user_id: "joiner" }],
    ] as const) {
      expect((await as("POST", "/team/member_add", { team_id, member })).status, JSON.stringify([team_id, member])).toBe(403);
    }
    const joined = await as<TeamJson>("POST", "/team/member_add", { team_id: "open-team", member: [{ role: "user", user_id: "joiner" }] });
    expect(joined.status).toBe(200);
    expect((await teamInfo("open-team")).json.team_info.members_with_roles).toEqual([{ role: "user", user_id: "joiner" }]);
    expect((await as<TeamJson[]>("GET", "/team/available")).json.map((t) => t.team_id)).toEqual(["open-team-2"]);
    // A team's key can now be made by its member.
    expect((await as("POST", "/key/generate", { team_id: "open-team" })).status).toBe(200);
    // The master key has no user to join with.
    expect((await admin(baseUrl, "GET", "/team/available")).status).toBe(404);
  });

  it("lists teams in pages, filtered and sorted, as /v2/team/list", async () => {
    await newTeam({ team_id: "v2-gamma", team_alias: "V2 Gamma", members_with_roles: [{ role: "user", user_id: "v2-user" }] });
    await newTeam({ team_id: "v2-alpha", team_alias: "v2 alpha" });
    await newTeam({ team_id: "v2-beta", team_alias: "v2 Beta", members_with_roles: [{ role: "admin", user_id: "v2-user" }] });
    await ask((await generate({ team_id: "v2-beta" })).key);
    type Page = { teams: TeamJson[]; total: number; page: number; page_size: number; total_pages: number };
    const list = async (query: string) => {
      const { status, json } = await admin<Page>(baseUrl, "GET", `/v2/team/list?team_alias=v2&${query}`);
      expect(status).toBe(200);
      return { ...json, ids: json.teams.map((t) => t.team_id) };
    };
    expect(await list("page_size=2&sort_by=team_id")).toMatchObject({ ids: ["v2-alpha", "v2-beta"], total: 3, page: 1, page_size: 2, total_pages: 2 });
    expect((await list("page_size=2&page=2&sort_by=team_id")).ids).toEqual(["v2-gamma"]);
    // Aliases in the order people read them, whatever their case.
    expect((await list("sort_by=team_alias&sort_order=desc")).ids).toEqual(["v2-gamma", "v2-beta", "v2-alpha"]);
    expect((await list("user_id=v2-user&sort_by=team_id")).ids).toEqual(["v2-beta", "v2-gamma"]);
    expect((await list("team_id=v2-alpha")).ids).toEqual(["v2-alpha"]);
    // The team whose key spent comes first by spend, once the ledger has it.
    const bySpend = await eventually("the ledger to book v2-beta's request", async () => {
      const page = await list("sort_by=spend&sort_order=desc");
      return page.teams[0]!.spend > 0 ? page : undefined;
    });
    expect(bySpend.ids[0]).toBe("v2-beta");
    // A plain object's own property ("__proto__", "toString") is no column either: it was a 500.
    for (const column of ["budget", "__proto__", "toString"]) {
      const bad = await admin<{ error: { param: string } }>(baseUrl, "GET", `/v2/team/list?sort_by=${column}`);
      expect(bad.status, column).toBe(400);
      expect(bad.json.error.param, column).toBe("sort_by");
    }
  });

  it("answers bad team requests with OpenAI-style errors", async () => {
    for (const [path, body] of [
      ["/team/new", { max_budget: "lots" }],
      ["/team/new", { members_with_roles: [{ role: "admin" }] }],
      ["/team/update", {}],
      ["/team/delete", { team_ids: [] }],
      ["/team/member_add", { team_id: "homelab" }],
      ["/team/member_delete", { team_id: "homelab" }],
      ["/team/model/add", { team_id: "homelab" }],
      ["/team/model/add", { team_id: "homelab", models: "fast-model" }],
      ["/team/model/delete", { team_id: "homelab", models: [""] }],
      ["/team/model/delete", { models: ["fast-model"] }],
    ] as const) {
      const { status, json } = await admin<{ error: { message: string; type: string } }>(baseUrl, "POST", path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error.message).toBeTruthy();
    }
  });
});
