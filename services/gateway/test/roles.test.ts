import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's user roles on the management API, through the gateway with the
// official client: an internal user makes and uses its own keys and reads
// its own spend; a proxy_admin's key administers; a proxy_admin_viewer's
// reads; in one process and split (where the edge calls the router and the
// accounting service with its own master key for the callers it lets in).

type ErrorJson = { error: { message: string; type: string } };

function roleTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  /** Each role's user, with the key /user/new made for it. */
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, fakeOpenAIConfig);
    baseUrl = setup.gateway.baseUrl;
    for (const role of ["internal_user", "proxy_admin", "proxy_admin_viewer"]) {
      const { status, json } = await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: `${role}-user`, user_role: role });
      expect(status).toBe(200);
      keys[role] = json.key;
    }
  });
  afterAll(() => setup?.close());

  async function as<T>(role: string, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${keys[role] ?? role}`, "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  }
  /** A chat request's answer and request id. */
  async function chat(key: string): Promise<{ content: string; id: string }> {
    const { data, response } = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions
      .create({ model: "fast-model", messages: [{ role: "user", content: "roles" }], max_tokens: 10 })
      .withResponse();
    return { content: data.choices[0]?.message.content ?? "", id: response.headers.get("x-litellm-call-id") ?? "" };
  }
  const logIds = async (role: string, query = "") =>
    (await as<{ request_id: string; user: string }[]>(role, "GET", `/spend/logs${query}`)).json.map((r) => `${r.request_id}:${r.user}`);

  it("lets an internal user make its own keys, use them, and read only its own spend", async () => {
    const made = await as<{ key: string; user_id: string }>("internal_user", "POST", "/key/generate", { key_alias: `${mode.split ? "split" : "one"}-cli` });
    expect(made.status).toBe(200);
    expect(made.json.user_id).toBe("internal_user-user");
    const own = await chat(made.json.key);
    expect(own.content).toBeTruthy();
    const master = await chat(MASTER_KEY);
    await setup.gateway.spendLog(master.id);
    await eventually("the user's row", async () => ((await logIds("internal_user")).includes(`${own.id}:internal_user-user`) ? true : undefined));
    // Only its own rows, whatever it filters by.
    expect((await logIds("internal_user")).every((id) => id.endsWith(":internal_user-user"))).toBe(true);
    expect(await logIds("internal_user", `?request_id=${master.id}`)).toEqual([]);
    const other = await as<ErrorJson>("internal_user", "GET", "/spend/logs?user_id=proxy_admin-user");
    expect(other.status).toBe(403);
    expect(other.json.error.type).toBe("permission_error");
    expect(await logIds("proxy_admin_viewer", `?request_id=${master.id}`)).toEqual([`${master.id}:`]);

    const listed = await as<{ keys: string[]; total_count: number }>("internal_user", "GET", "/key/list");
    expect(listed.json.total_count).toBe(2);
    const forOther = await as<ErrorJson>("internal_user", "POST", "/key/generate", { user_id: "proxy_admin-user" });
    expect(forOther.status).toBe(403);
    expect(forOther.json.error).toMatchObject({ type: "permission_error", message: expect.stringContaining("Got user_id=proxy_admin-user") });
  });

  it("lists the aliases of the keys a caller may list, searched and paged, for /key/aliases", async () => {
    type Aliases = { aliases: string[]; total_count: number; current_page: number; total_pages: number };
    await admin(baseUrl, "POST", "/team/new", { team_id: "alias-team" });
    for (const key_alias of ["Alias-Blue", "alias-red", "other"]) expect((await admin(baseUrl, "POST", "/key/generate", { key_alias, team_id: "alias-team" })).status).toBe(200);
    await admin(baseUrl, "POST", "/key/generate", { key_alias: "alias-red", team_id: "alias-team" });
    expect((await as("internal_user", "POST", "/key/generate", { key_alias: "mine%" })).status).toBe(200);
    // One entry per alias, in order; the search matches in any case and takes % as itself.
    const searched = await as<Aliases>("proxy_admin_viewer", "GET", "/key/aliases?team_id=alias-team&search=ALIAS");
    expect(searched.json).toEqual({ aliases: ["Alias-Blue", "alias-red"], total_count: 2, current_page: 1, total_pages: 1 });
    const paged = await as<Aliases>("proxy_admin", "GET", "/key/aliases?team_id=alias-team&size=2&page=2");
    expect(paged.json).toEqual({ aliases: ["other"], total_count: 3, current_page: 2, total_pages: 2 });
    expect((await as<Aliases>("proxy_admin", "GET", "/key/aliases?search=%25")).json.aliases).toEqual(["mine%"]);
    // An internal user sees its own keys' aliases only, and no team's it is not in.
    expect((await as<Aliases>("internal_user", "GET", "/key/aliases?search=mine")).json.aliases).toEqual(["mine%"]);
    expect((await as<Aliases>("internal_user", "GET", "/key/aliases?search=alias")).json).toMatchObject({ aliases: [], total_count: 0 });
    expect((await as("internal_user", "GET", "/key/aliases?team_id=alias-team")).status).toBe(403);
    expect((await as("internal_user", "GET", "/key/aliases?size=101")).status).toBe(400);
  });

  it("keeps admin routes to proxy admins, and writes from viewers", async () => {
    for (const [method, path, body] of [
      ["POST", "/model/new", { model_name: "sneaky", litellm_params: { model: "openai/gpt-4o" } }],
      ["POST", "/team/new", {}],
      ["GET", "/global/spend"],
      ["GET", "/spend/tags"],
    ] as const) {
      const refused = await as<ErrorJson>("internal_user", method, path, body);
      expect(refused.status, path).toBe(401);
      expect(refused.json.error).toMatchObject({ type: "permission_error", message: expect.stringContaining("this key's role: internal_user") });
    }
    const viewerWrite = await as<ErrorJson>("proxy_admin_viewer", "POST", "/model/new", { model_name: "sneaky", litellm_params: { model: "openai/gpt-4o" } });
    expect(viewerWrite.status).toBe(403);
    expect(viewerWrite.json.error.message).toBe("A proxy_admin_viewer's key may read but not change anything");
    expect((await as("proxy_admin_viewer", "GET", "/model/info")).status).toBe(200);
    expect((await as("proxy_admin_viewer", "GET", "/global/spend")).status).toBe(200);
    const everything = await as<{ user_id: string | null; keys: unknown[] }>("proxy_admin_viewer", "GET", "/user/info");
    expect(everything.json.user_id).toBeNull();
    expect(everything.json.keys.length).toBeGreaterThanOrEqual(3);
  });

  it("lists the roles a user may be given to any valid key", async () => {
    const roles = await as<Record<string, { ui_label: string }>>("internal_user", "GET", "/user/available_roles");
    expect(roles.status).toBe(200);
    expect(Object.keys(roles.json)).toEqual(["proxy_admin", "proxy_admin_viewer", "internal_user", "internal_user_viewer"]);
    expect(roles.json["proxy_admin"]?.ui_label).toBe("Admin");
    expect((await as("sk-not-a-key-at-all-000000", "GET", "/user/available_roles")).status).toBe(401);
    // No litellm_settings.default_internal_user_params.available_teams: no team to join by oneself.
    const noTeams = await as<ErrorJson>("internal_user", "GET", "/team/available");
    expect(noTeams.status).toBe(400);
    expect(noTeams.json.error.message).toContain("available_teams");
  });

  it("answers /key/health for a key that works, and refuses a blocked one", async () => {
    const made = await as<{ key: string }>("internal_user", "POST", "/key/generate", {});
    expect(await as(made.json.key, "POST", "/key/health")).toEqual({ status: 200, json: { key: "healthy", logging_callbacks: null } });
    expect((await admin(baseUrl, "POST", "/key/block", { key: made.json.key })).status).toBe(200);
    expect((await as(made.json.key, "POST", "/key/health")).status).toBe(401);
  });

  it("lets a proxy_admin's key add a model that then answers", async () => {
    const added = await as<{ model_id: string }>("proxy_admin", "POST", "/model/new", {
      model_name: `added-${mode.split}`,
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${setup.provider.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY" },
    });
    expect(added.status).toBe(200);
    const answer = await eventually("the added model", () =>
      setup.openai.chat.completions.create({ model: `added-${mode.split}`, messages: [{ role: "user", content: "hi" }] }).catch(() => undefined),
    );
    expect(answer.choices[0]?.message.content).toBeTruthy();
  });

  it("takes a role away at once, also from requests in flight", async () => {
    const { json } = await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: `demoted-${mode.split}`, user_role: "proxy_admin" });
    keys["demoted"] = json.key;
    const tries = Array.from({ length: 16 }, (_, i) => as<unknown>("demoted", "POST", "/team/new", { team_id: `demoted-${mode.split}-${i}` }));
    const demotion = admin(baseUrl, "POST", "/user/update", { user_id: `demoted-${mode.split}`, user_role: "internal_user" });
    const answers = await Promise.all(tries);
    expect((await demotion).status).toBe(200);
    // Each made its team or was refused; the teams there are exactly the calls let through.
    expect(answers.every((a) => a.status === 200 || a.status === 401)).toBe(true);
    const teams = (await admin<{ team_id: string }[]>(baseUrl, "GET", "/team/list")).json.filter((t) => t.team_id.startsWith(`demoted-${mode.split}-`));
    expect(teams.length).toBe(answers.filter((a) => a.status === 200).length);
    expect((await as("demoted", "POST", "/team/new", { team_id: `demoted-${mode.split}-after` })).status).toBe(401);
  });
}

describe("litellm_settings' key and user rules, one process", () => {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, (fakeUrl) =>
      writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  upperbound_key_generate_params: { max_budget: 10 }
  key_generation_settings:
    personal_key_generation: { required_params: [key_alias] }
  max_internal_user_budget: 7
general_settings:
  master_key: ${MASTER_KEY}
`),
    );
    baseUrl = setup.gateway.baseUrl;
  });
  afterAll(() => setup?.close());

  it("bounds every key's limits and asks users for the fields the config requires", async () => {
    const over = await admin<ErrorJson>(baseUrl, "POST", "/key/generate", { max_budget: 1000 });
    expect(over.status).toBe(400);
    expect(over.json.error).toMatchObject({ type: "invalid_request_error", message: "max_budget is over max limit set in config - user_value=1000; max_value=10" });
    const { json: user } = await admin<{ key: string; max_budget: number }>(baseUrl, "POST", "/user/new", { user_id: "rules-user" });
    expect(user.max_budget).toBe(7);
    const generate = (body: unknown) =>
      fetch(`${baseUrl}/key/generate`, { method: "POST", headers: { authorization: `Bearer ${user.key}` }, body: JSON.stringify(body) }).then(async (res) => ({
        status: res.status,
        json: (await res.json()) as { key: string; max_budget: number } & ErrorJson,
      }));
    const bare = await generate({});
    expect(bare.status).toBe(400);
    expect(bare.json.error.message).toBe("Required param key_alias not in data");
    const named = await generate({ key_alias: "rules-cli" });
    expect(named.status).toBe(200);
    expect(named.json.max_budget).toBe(10);
    const answer = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: named.json.key, maxRetries: 0 }).chat.completions.create({
      model: "fast-model",
      messages: [{ role: "user", content: "bounded" }],
    });
    expect(answer.choices[0]?.message.content).toBeTruthy();
  });
});

describe("user roles, one process", () => roleTests(MODES[0]!));
describe("user roles, split services", () => roleTests(MODES[1]!));
