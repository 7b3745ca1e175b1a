import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// LiteLLM's users through the gateway in one process, on Postgres and NATS:
// the /user/* routes, and what a user's limits do to its keys' model calls.

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
  gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url), { databaseUrl: database.url, nats: bus }));
  baseUrl = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

interface UserJson {
  user_id: string;
  user_email: string | null;
  user_role: string;
  models: string[];
  max_budget: number | null;
  rpm_limit: number | null;
  spend: number;
}

interface NewUserJson extends UserJson {
  key: string;
  token_id: string | null;
  key_alias: string | null;
  teams: string[];
}

const ask = (key: string) =>
  new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({
    model: "fast-model",
    messages: [{ role: "user", content: "user" }],
    max_tokens: 10,
  });

async function newUser(body: Record<string, unknown>): Promise<NewUserJson> {
  const { status, json } = await admin<NewUserJson>(baseUrl, "POST", "/user/new", body);
  expect(status).toBe(200);
  return json;
}

const userInfo = (userId: string, bearer?: string) =>
  fetch(`${baseUrl}/user/info${userId ? `?user_id=${userId}` : ""}`, { headers: { authorization: `Bearer ${bearer ?? MASTER_KEY}` } }).then(
    async (res) => ({ status: res.status, json: (await res.json()) as { user_id: string; user_info: UserJson & { teams: string[] }; keys: { token: string; spend: number }[]; teams: { team_id: string }[] } }),
  );

describe("users", () => {
  it("makes a user with its first key, as LiteLLM's /user/new does", async () => {
    const made = await newUser({ user_id: "ana", user_email: "ana@example.com", models: ["fast-model"], max_budget: 10, key_alias: "ana-laptop" });
    expect(made).toMatchObject({ user_id: "ana", user_email: "ana@example.com", user_role: "internal_user", models: ["fast-model"], max_budget: 10, key_alias: "ana-laptop", spend: 0 });
    expect(made.key).toMatch(/^sk-/);
    expect((await ask(made.key)).choices[0]?.message.content).toBe("Echo: user");
    const info = await userInfo("ana");
    expect(info.json.keys.map((k) => k.token)).toEqual([made.token_id]);

    const keyless = await newUser({ auto_create_key: false, user_email: "bo@example.com" });
    expect(keyless.key).toBe("");
    expect(keyless.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await admin(baseUrl, "POST", "/user/new", { user_id: "ana" })).status).toBe(409);
    expect((await admin(baseUrl, "POST", "/user/new", { user_email: "ANA@example.com" })).status).toBe(409);
  });

  it("updates a user by id or by email, and shows it", async () => {
    await newUser({ user_id: "cy", user_email: "cy@example.com", auto_create_key: false });
    const byId = await admin<{ user_id: string; data: UserJson }>(baseUrl, "POST", "/user/update", { user_id: "cy", max_budget: 4, user_role: "internal_user_viewer" });
    expect(byId.json).toMatchObject({ user_id: "cy", data: { max_budget: 4, user_role: "internal_user_viewer" } });
    const byEmail = await admin<{ data: UserJson }>(baseUrl, "POST", "/user/update", { user_email: "cy@example.com", rpm_limit: 9 });
    expect(byEmail.json.data).toMatchObject({ user_email: "cy@example.com", rpm_limit: 9, max_budget: 4 });
    // As LiteLLM's: an unknown user_id is made (with no key), and so is a user for an unknown email, with a new id.
    const made = await admin<{ user_id: string; data: UserJson }>(baseUrl, "POST", "/user/update", { user_id: "newcomer", max_budget: 1 });
    expect(made.json).toMatchObject({ user_id: "newcomer", data: { user_id: "newcomer", max_budget: 1, user_role: "internal_user" } });
    expect((await userInfo("newcomer")).json).toMatchObject({ user_id: "newcomer", keys: [] });
    const byNewEmail = await admin<{ user_id: string; data: UserJson }>(baseUrl, "POST", "/user/update", { user_email: "somebody@example.com", max_budget: 1 });
    expect(byNewEmail.json).toMatchObject({ user_id: expect.stringMatching(/^[0-9a-f-]{36}$/), data: { user_email: "somebody@example.com", max_budget: 1, user_role: "internal_user" } });
    expect((await userInfo(byNewEmail.json.user_id)).json).toMatchObject({ user_info: { user_email: "somebody@example.com" } });
    // Updates naming one new user at once: one makes it, the others update it.
    const atOnce = await Promise.all(Array.from({ length: 8 }, (_, i) => admin<{ user_id: string }>(baseUrl, "POST", "/user/update", { user_id: "raced-user", rpm_limit: 10 + i })));
    expect(atOnce.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect((await admin<{ users: unknown[] }>(baseUrl, "GET", "/user/list?user_ids=raced-user")).json.users).toHaveLength(1);
    expect((await admin(baseUrl, "POST", "/user/update", { user_id: "cy", user_role: "emperor" })).status).toBe(400);
  });

  it("holds a user's keys outside a team to the user's budget, and its keys in a team to the team's", async () => {
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "user" }], max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    const dee = await newUser({ user_id: "dee", max_budget: reservation + 0.9e-6 });
    const second = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: "dee" })).json;
    await ask(dee.key);
    await expect(ask(second.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining("ExceededBudget: User=dee over budget.") });
    // A key of the same user in a team is held to the team's budget instead, as in LiteLLM.
    await admin(baseUrl, "POST", "/team/new", { team_id: "dee-team", max_budget: 10 });
    const teamKey = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: "dee", team_id: "dee-team" })).json;
    expect((await ask(teamKey.key)).choices[0]?.message.content).toBe("Echo: user");
    const info = await userInfo("dee");
    expect(info.json.user_info.spend).toBeGreaterThan(0);
  });

  it("counts a user's requests per minute over all its keys, in a team or not", async () => {
    const eve = await newUser({ user_id: "eve", rpm_limit: 3 });
    await admin(baseUrl, "POST", "/team/new", { team_id: "eve-team" });
    const teamKey = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: "eve", team_id: "eve-team" })).json;
    const results = await Promise.allSettled([eve.key, teamKey.key, eve.key, teamKey.key, eve.key].map(ask));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    // Every one not served refused by the user's limit: another failure must not pass for one.
    for (const refused of results.filter((r) => r.status === "rejected")) expect(refused.reason).toMatchObject({ status: 429, type: "rate_limit_error", message: expect.stringContaining("for this user") });
  });

  it("puts a new user in teams, lists and filters users, and shows the ledger's spend of a user without a budget", async () => {
    await admin(baseUrl, "POST", "/team/new", { team_id: "listed-team" });
    await admin(baseUrl, "POST", "/team/new", { team_id: "led-team" });
    // A team as an object may say the user's role in it, as LiteLLM's do.
    const fay = await newUser({ user_id: "fay", user_email: "Fay@Example.com", teams: ["listed-team", { team_id: "led-team", user_role: "admin" }] });
    expect(fay.teams).toEqual(["listed-team", "led-team"]);
    const team = await admin<{ team_info: { members_with_roles: unknown[] } }>(baseUrl, "GET", "/team/info?team_id=listed-team");
    expect(team.json.team_info.members_with_roles).toEqual([{ role: "user", user_id: "fay" }]);
    const led = await admin<{ team_info: { members_with_roles: unknown[] } }>(baseUrl, "GET", "/team/info?team_id=led-team");
    expect(led.json.team_info.members_with_roles).toEqual([{ role: "admin", user_id: "fay" }]);
    await ask(fay.key);
    const shown = await eventually("the ledger to book fay's request", async () => {
      const { json } = await admin<{ users: (UserJson & { key_count: number })[]; total: number; total_pages: number }>(baseUrl, "GET", "/user/list?team=listed-team");
      return json.users[0] && json.users[0].spend > 0 ? json : undefined;
    });
    expect(shown).toMatchObject({ total: 1, total_pages: 1, users: [{ user_id: "fay", key_count: 1 }] });
    const info = await userInfo("fay");
    expect(info.json.user_info).toMatchObject({ spend: shown.users[0]!.spend, teams: ["listed-team", "led-team"] });
    expect(info.json.teams.map((t) => t.team_id)).toEqual(["listed-team", "led-team"]);

    const byEmail = await admin<{ users: UserJson[] }>(baseUrl, "GET", "/user/list?user_email=fay@");
    expect(byEmail.json.users.map((u) => u.user_id)).toEqual(["fay"]);
    const byIds = await admin<{ users: UserJson[] }>(baseUrl, "GET", "/user/list?user_ids=ana,fay&page_size=1&page=2");
    expect(byIds.json.users).toHaveLength(1);
  });

  it("answers the master key's /user/info without a user_id with every key and team, as LiteLLM answers its admin", async () => {
    const dora = await newUser({ user_id: "dora" });
    await admin(baseUrl, "POST", "/team/new", { team_id: "everyone-sees" });
    const plain = (await admin<{ key: string; token: string }>(baseUrl, "POST", "/key/generate", {})).json;
    const { status, json } = await userInfo("");
    expect(status).toBe(200);
    expect(json.user_id).toBeNull();
    expect(json.user_info).toBeNull();
    expect(json.keys.map((k) => k.token)).toEqual(expect.arrayContaining([dora.token_id, plain.token]));
    expect(json.teams.map((t) => t.team_id)).toContain("everyone-sees");
    const listed = (await admin<{ total_count: number }>(baseUrl, "GET", "/key/list")).json;
    expect(json.keys).toHaveLength(listed.total_count);
  });

  it("lets a user's key read its own user, and no other", async () => {
    const gus = await newUser({ user_id: "gus" });
    expect((await userInfo("", gus.key)).json.user_id).toBe("gus");
    expect((await userInfo("ana", gus.key)).status).toBe(403);
    expect((await admin(baseUrl, "GET", "/user/list")).status).toBe(200);
    const listed = await fetch(`${baseUrl}/user/list`, { headers: { authorization: `Bearer ${gus.key}` } });
    expect(listed.status).toBe(401);
  });

  it("deletes users with their keys and their places in teams", async () => {
    await admin(baseUrl, "POST", "/team/new", { team_id: "hal-team" });
    const hal = await newUser({ user_id: "hal", teams: ["hal-team"] });
    expect((await admin(baseUrl, "POST", "/user/delete", { user_ids: ["hal", "nobody"] })).status).toBe(404);
    await ask(hal.key);
    const deleted = await admin<{ deleted_users: string[]; deleted_keys: string[] }>(baseUrl, "POST", "/user/delete", { user_ids: ["hal"] });
    expect(deleted.json).toEqual({ deleted_users: ["hal"], deleted_keys: [hal.token_id] });
    await expect(ask(hal.key)).rejects.toMatchObject({ status: 401 });
    expect((await userInfo("hal")).status).toBe(404);
    const team = await admin<{ team_info: { members_with_roles: unknown[] } }>(baseUrl, "GET", "/team/info?team_id=hal-team");
    expect(team.json.team_info.members_with_roles).toEqual([]);
  });

  it("updates many users at once with /user/bulk_update, listing those it could not", async () => {
    await newUser({ user_id: "bulk-a", auto_create_key: false });
    const bulk = await admin<{ results: { user_id: string | null; success: boolean; updated_user?: UserJson; error?: string }[]; total_requested: number; successful_updates: number; failed_updates: number }>(
      baseUrl,
      "POST",
      "/user/bulk_update",
      { users: [{ user_id: "bulk-a", max_budget: 3 }, { user_id: "bulk-a", user_role: "emperor" }, { user_email: "bulk-new@example.com", rpm_limit: 4 }] },
    );
    expect(bulk.status).toBe(200);
    expect(bulk.json).toMatchObject({ total_requested: 3, successful_updates: 2, failed_updates: 1 });
    expect(bulk.json.results.map((r) => r.success)).toEqual([true, false, true]);
    expect(bulk.json.results[0]!.updated_user).toMatchObject({ user_id: "bulk-a", max_budget: 3 });
    expect(bulk.json.results[1]!.error).toMatch(/user_role/);
    expect(bulk.json.results[2]!.updated_user).toMatchObject({ user_email: "bulk-new@example.com", rpm_limit: 4 });
    expect((await admin(baseUrl, "POST", "/user/bulk_update", { users: [] })).status).toBe(400);
  });

  it("answers bad user requests with OpenAI-style errors", async () => {
    for (const [path, body] of [
      ["/user/new", { max_budget: "lots" }],
      ["/user/new", { teams: "hal-team" }],
      ["/user/new", { teams: [{ team_id: "hal-team", user_role: "owner" }] }],
      ["/user/new", { teams: ["no-such-team"] }],
      ["/user/update", { max_budget: 1 }],
      ["/user/delete", { user_ids: [] }],
    ] as const) {
      const { status, json } = await admin<{ error: { message: string } }>(baseUrl, "POST", path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error.message).toBeTruthy();
    }
  });
});
