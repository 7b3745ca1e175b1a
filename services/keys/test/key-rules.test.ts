import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { MASTER, asMaster, keysService } from "./support.js";

// litellm_settings' rules for keys (default_key_generate_params,
// upperbound_key_generate_params, key_generation_settings) and new users
// (default_internal_user_params, max_internal_user_budget).

const service = keysService(
  parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o }
litellm_settings:
  default_key_generate_params:
    max_budget: 5
    models: [fast-model]
    metadata: { source: default }
    duration: 7d
  upperbound_key_generate_params:
    max_budget: 10
    rpm_limit: 100
    budget_duration: 30d
    duration: 30d
  key_generation_settings:
    team_key_generation:
      allowed_team_member_roles: [admin]
      required_params: [key_alias]
    personal_key_generation:
      allowed_user_roles: [proxy_admin]
  default_internal_user_params:
    models: [fast-model]
    rpm_limit: 30
  max_internal_user_budget: 20
  internal_user_budget_duration: 1mo
general_settings:
  master_key: ${MASTER}
`),
);
const client = service.client;
const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const refused = (call: Promise<unknown>) => call.then(() => undefined, (e: unknown) => ConnectError.from(e));
const keyRef = (key: string) => ({ ref: { case: "key" as const, value: key } });
const DAY = 86_400_000;

describe("default_key_generate_params", () => {
  it("fills what a new key's request leaves out, and nothing it gives", async () => {
    const { info } = await client().generateKey({}, asMaster);
    expect(info).toMatchObject({ maxBudget: 5, models: ["fast-model"], metadataJson: '{"source":"default"}', rpmLimit: 100, budgetDuration: "30d" });
    expect(Number(info!.expiresAtMs) - Date.now()).toBeGreaterThan(7 * DAY - 60_000);
    expect(Number(info!.expiresAtMs) - Date.now()).toBeLessThanOrEqual(7 * DAY);
    const given = await client().generateKey({ settings: { maxBudget: 2, models: { models: ["smart-model"] }, metadataJson: '{"app":"cli"}', duration: "1d" } }, asMaster);
    expect(given.info).toMatchObject({ maxBudget: 2, models: ["smart-model"], metadataJson: '{"app":"cli"}' });
    expect(Number(given.info!.expiresAtMs) - Date.now()).toBeLessThanOrEqual(DAY);
  });
});

describe("upperbound_key_generate_params", () => {
  it("refuses a limit over its bound, for every caller, on generate, update and regenerate", async () => {
    const over = await refused(client().generateKey({ settings: { maxBudget: 11 } }, asMaster));
    expect(over).toMatchObject({ code: Code.InvalidArgument, rawMessage: "max_budget is over max limit set in config - user_value=11; max_value=10" });
    expect(await refused(client().generateKey({ settings: { rpmLimit: 101 } }, asMaster))).toMatchObject({ code: Code.InvalidArgument });
    expect(await refused(client().generateKey({ settings: { budgetDuration: "31d" } }, asMaster))).toMatchObject({
      rawMessage: "budget_duration is over max limit set in config - user_value=31d; max_value=30d",
    });
    expect(await refused(client().generateKey({ settings: { duration: "2mo" } }, asMaster))).toMatchObject({ code: Code.InvalidArgument });
    expect((await client().generateKey({ settings: { maxBudget: 10, rpmLimit: 100, budgetDuration: "1d", duration: "30d" } }, asMaster)).info?.maxBudget).toBe(10);

    const { key } = await client().generateKey({}, asMaster);
    expect(await refused(client().updateKey({ ref: keyRef(key), settings: { maxBudget: 50 } }, asMaster))).toMatchObject({ code: Code.InvalidArgument });
    // Taking a bounded limit away is going over it.
    expect(await refused(client().updateKey({ ref: keyRef(key), settings: { clear: ["max_budget"] } }, asMaster))).toMatchObject({
      rawMessage: "max_budget is over max limit set in config - user_value=None; max_value=10",
    });
    expect(await refused(client().updateKey({ ref: keyRef(key), settings: { clear: ["duration"] } }, asMaster))).toMatchObject({ code: Code.InvalidArgument });
    expect(await refused(client().regenerateKey({ ref: keyRef(key), settings: { rpmLimit: 1000 } }, asMaster))).toMatchObject({ code: Code.InvalidArgument });
    expect((await client().updateKey({ ref: keyRef(key), settings: { maxBudget: 8 } }, asMaster)).key?.maxBudget).toBe(8);
  });
});

describe("key_generation_settings", () => {
  it("holds who may make personal and team keys, and what they must give", async () => {
    await client().createUser({ userId: "member", settings: { userRole: "internal_user" } }, asMaster);
    await client().createUser({ userId: "lead", settings: { userRole: "internal_user" } }, asMaster);
    await client().createTeam({ teamId: "crew" }, asMaster);
    await client().addTeamMembers({ teamId: "crew", membersJson: JSON.stringify([{ role: "admin", user_id: "lead" }, { role: "user", user_id: "member" }]) }, asMaster);
    const keyOf = async (userId: string) => (await client().generateKey({ settings: { userId } }, asMaster)).key;
    const [member, lead] = [await keyOf("member"), await keyOf("lead")];

    expect(await refused(client().generateKey({}, as(member)))).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: 'Personal key creation has been restricted by admin. Allowed roles=["proxy_admin"]. Your role=internal_user',
    });
    const plainMember = await refused(client().generateKey({ settings: { teamId: "crew", keyAlias: "crew-1" } }, as(member)));
    expect(plainMember).toMatchObject({ code: Code.InvalidArgument, rawMessage: 'Team member role user not in allowed_team_member_roles=["admin"]' });
    const noAlias = await refused(client().generateKey({ settings: { teamId: "crew" }, givenParams: ["team_id"] }, as(lead)));
    expect(noAlias).toMatchObject({ code: Code.InvalidArgument, rawMessage: "Required param key_alias not in data" });
    const made = await client().generateKey({ settings: { teamId: "crew", keyAlias: "crew-lead" }, givenParams: ["team_id", "key_alias"] }, as(lead));
    expect(made.info).toMatchObject({ teamId: "crew", userId: "lead" });
    // The master key makes any key.
    expect((await client().generateKey({ settings: { teamId: "crew" } }, asMaster)).info?.teamId).toBe("crew");
  });
});

describe("default_internal_user_params and max_internal_user_budget", () => {
  it("fill what /user/new leaves out, by the role asked for", async () => {
    const made = async (userId: string, settings = {}) => (await client().createUser({ userId, settings, createKey: true }, asMaster)).user!;
    expect(await made("plain")).toMatchObject({ userRole: "internal_user", maxBudget: 20, budgetDuration: "1mo", models: ["fast-model"], rpmLimit: 30 });
    expect(await made("thrifty", { maxBudget: 3, models: { models: ["smart-model"] } })).toMatchObject({ maxBudget: 3, models: ["smart-model"], rpmLimit: 30 });
    const viewer = await made("watcher", { userRole: "internal_user_viewer" });
    expect(viewer).toMatchObject({ models: ["fast-model"], rpmLimit: 30, budgetDuration: "" });
    expect(viewer.maxBudget).toBeUndefined();
    const admin = await made("chief", { userRole: "proxy_admin" });
    expect(admin).toMatchObject({ models: [], budgetDuration: "" });
    expect(admin.rpmLimit).toBeUndefined();
    // The first key /user/new makes gets the user's models.
    expect((await client().getUser({ userId: "plain" }, asMaster)).keys[0]?.models).toEqual(["fast-model"]);
  });
});
