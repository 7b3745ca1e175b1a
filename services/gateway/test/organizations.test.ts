import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's organizations through the gateway, with the official client: the
// /organization/* routes, a team's organization_id, and an organization's
// block, models and budget on every request of its teams' keys; in one
// process and split, where the edge keeps Authorize answers per key.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

interface MembershipJson {
  user_id: string;
  user_email: string | null;
  organization_id: string;
  user_role: string;
  spend: number;
  litellm_budget_table: { max_budget: number } | null;
}

interface OrganizationJson {
  organization_id: string;
  budget_id: string | null;
  organization_alias: string;
  models: string[];
  spend: number;
  blocked: boolean;
  metadata: Record<string, unknown>;
  litellm_budget_table: { budget_id: string | null; max_budget: number | null; budget_duration: string | null; rpm_limit: number | null };
  members: MembershipJson[];
  teams: { team_id: string; organization_id: string | null; models: string[] }[];
}

type ErrorJson = { error: { message: string; type: string } };

const MESSAGES = [{ role: "user" as const, content: "organized" }];
/** The most a request of this body may cost, as the gateway reserves it (gpt-4o-mini's prices, each byte at most a token). */
const RESERVATION = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: MESSAGES, max_tokens: 10 })) * 0.15e-6 + 10 * 0.6e-6;

function organizationTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, config);
    baseUrl = setup.gateway.baseUrl;
  });
  afterAll(() => setup?.close());

  const ask = (key: string, model = "fast-model") =>
    new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model, messages: MESSAGES, max_tokens: 10 });
  const call = async <T>(key: string, method: "DELETE" | "POST" | "PATCH" | "GET", path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  };
  async function newOrganization(body: Record<string, unknown>): Promise<OrganizationJson> {
    const { status, json } = await admin<OrganizationJson>(baseUrl, "POST", "/organization/new", body);
    expect(status).toBe(200);
    return json;
  }
  /** A team of the organization and a key of it (of `userId`, when given). */
  async function teamKey(organizationId: string, userId?: string): Promise<{ teamId: string; key: string }> {
    const team = await admin<{ team_id: string; organization_id: string }>(baseUrl, "POST", "/team/new", { organization_id: organizationId });
    expect(team.status).toBe(200);
    expect(team.json.organization_id).toBe(organizationId);
    const key = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { team_id: team.json.team_id, ...(userId && { user_id: userId }) });
    return { teamId: team.json.team_id, key: key.json.key };
  }

  it("creates, shows, lists, updates and deletes organizations as LiteLLM's routes do", async () => {
    const made = await newOrganization({ organization_alias: "Acme", models: ["fast-model"], max_budget: 100, budget_duration: "30d", metadata: { region: "eu" } });
    expect(made).toMatchObject({ organization_alias: "Acme", models: ["fast-model"], spend: 0, blocked: false, metadata: { region: "eu" }, members: [], teams: [] });
    expect(made.litellm_budget_table).toMatchObject({ max_budget: 100, budget_duration: "30d", rpm_limit: null });
    const id = made.organization_id;
    const { teamId, key } = await teamKey(id);
    expect((await ask(key)).choices[0]?.message.content).toBe("Echo: organized");

    const updated = await admin<OrganizationJson>(baseUrl, "PATCH", "/organization/update", { organization_id: id, organization_alias: "Acme Inc", rpm_limit: 1000, max_budget: null });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ organization_alias: "Acme Inc", litellm_budget_table: { max_budget: null, rpm_limit: 1000 } });
    const info = await admin<OrganizationJson>(baseUrl, "GET", `/organization/info?organization_id=${id}`);
    expect(info.json.teams).toEqual([expect.objectContaining({ team_id: teamId, organization_id: id, models: ["fast-model"] })]);
    expect((await admin(baseUrl, "POST", "/team/new", { team_alias: "elsewhere" })).status).toBe(200);
    const teams = await admin<{ team_id: string }[]>(baseUrl, "GET", `/team/list?organization_id=${id}`);
    expect(teams.json.map((t) => t.team_id)).toEqual([teamId]);
    // Without a budget, its spend is its teams' in the ledger.
    await expect.poll(async () => (await admin<OrganizationJson>(baseUrl, "GET", `/organization/info?organization_id=${id}`)).json.spend, { timeout: 10_000 }).toBeGreaterThan(0);
    const listed = await admin<OrganizationJson[]>(baseUrl, "GET", "/organization/list");
    expect(listed.json.map((o) => o.organization_id)).toContain(id);
    // LiteLLM's filters: org_id exactly, org_alias contained in any case.
    expect((await admin<OrganizationJson[]>(baseUrl, "GET", `/organization/list?org_id=${id}`)).json.map((o) => o.organization_id)).toEqual([id]);
    expect((await admin<OrganizationJson[]>(baseUrl, "GET", "/organization/list?org_alias=ACME")).json.map((o) => o.organization_id)).toEqual([id]);
    expect((await admin<OrganizationJson[]>(baseUrl, "GET", "/organization/list?org_alias=nothing-like-it")).json).toEqual([]);
    // The older form answers those that exist.
    const older = await admin<OrganizationJson[]>(baseUrl, "POST", "/organization/info", { organizations: [id, "no-such-org"] });
    expect(older.json.map((o) => o.organization_alias)).toEqual(["Acme Inc"]);
    // At most 100 names a call, each a call to the keys service (ten thousand held it for seconds).
    const most = await admin<OrganizationJson[]>(baseUrl, "POST", "/organization/info", { organizations: [id, ...Array<string>(99).fill("no-such-org")] });
    expect(most.json.map((o) => o.organization_alias)).toEqual(["Acme Inc"]);
    const tooMany = await admin<{ error: { param: string } }>(baseUrl, "POST", "/organization/info", { organizations: [id, ...Array<string>(100).fill("no-such-org")] });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.param).toBe("organizations");

    const deleted = await call<OrganizationJson[]>(MASTER_KEY, "DELETE", "/organization/delete", { organization_ids: [id] });
    expect(deleted.status).toBe(200);
    expect(deleted.json.map((o) => o.organization_id)).toEqual([id]);
    // Its team and the team's key went with it.
    await expect(ask(key)).rejects.toMatchObject({ status: 401 });
    expect((await admin(baseUrl, "GET", `/team/info?team_id=${teamId}`)).status).toBe(404);
    const gone = await admin<ErrorJson>(baseUrl, "GET", `/organization/info?organization_id=${id}`);
    expect(gone.status).toBe(404);
    expect(gone.json.error.message).toBe(`Organization not found for organization_id=${id}`);
  });

  it("takes a budget's limits by budget_id, as LiteLLM's organizations do", async () => {
    const budgetId = `org-tier-${mode}`;
    expect((await admin(baseUrl, "POST", "/budget/new", { budget_id: budgetId, max_budget: RESERVATION + 0.9e-6 })).status).toBe(200);
    const made = await newOrganization({ organization_alias: "Tiered", budget_id: budgetId });
    expect(made).toMatchObject({ budget_id: budgetId, litellm_budget_table: { budget_id: budgetId, max_budget: RESERVATION + 0.9e-6 } });
    const { key } = await teamKey(made.organization_id);
    await ask(key);
    await expect(ask(key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`Organization=${made.organization_id} `) });
  });

  it("holds its teams' keys to its models, its block and its budget", async () => {
    const { organization_id: id } = await newOrganization({ organization_alias: "Bounded", models: ["fast-model"], max_budget: RESERVATION + 0.9e-6 });
    const narrow = await admin<ErrorJson>(baseUrl, "POST", "/team/new", { organization_id: id, models: ["smart-model"] });
    expect(narrow.status).toBe(400);
    expect(narrow.json.error.message).toBe(`models [smart-model] are not among organization ${id}'s models [fast-model]`);
    const [a, b] = [await teamKey(id), await teamKey(id)];
    await ask(a.key);
    // The first request spent most of the budget: the other team's next one cannot reserve what it may cost.
    await expect(ask(b.key)).rejects.toMatchObject({ status: 400, type: "budget_exceeded", message: expect.stringContaining(`Budget has been exceeded! Organization=${id} Current cost: `) });
    expect((await admin(baseUrl, "PATCH", "/organization/update", { organization_id: id, max_budget: null, models: ["smart-model"] })).status).toBe(200);
    await expect(ask(b.key)).rejects.toMatchObject({ status: 401, message: expect.stringContaining(`Organization=${id} may not use model=fast-model`) });
    expect((await admin(baseUrl, "PATCH", "/organization/update", { organization_id: id, models: [], blocked: true })).status).toBe(200);
    await expect(ask(a.key)).rejects.toMatchObject({ status: 401, message: expect.stringContaining(`Authentication Error, this key's organization (${id}) is blocked`) });
    // A key that names the organization itself, without a team, is held to it too.
    const direct = (await admin<GeneratedKey & { organization_id: string }>(baseUrl, "POST", "/key/generate", { organization_id: id })).json;
    expect(direct.organization_id).toBe(id);
    await expect(ask(direct.key)).rejects.toMatchObject({ status: 401, message: expect.stringContaining(`this key's organization (${id}) is blocked`) });
    expect((await admin(baseUrl, "PATCH", "/organization/update", { organization_id: id, blocked: false })).status).toBe(200);
    expect((await ask(a.key)).choices[0]?.message.content).toBe("Echo: organized");
  });

  it("adds, changes and removes members; an org_admin manages them, a member reads, others are refused", async () => {
    const { organization_id: id } = await newOrganization({ organization_alias: "People" });
    const added = await admin<{ organization_id: string; updated_users: { user_id: string; user_role: string; spend: number }[]; updated_organization_memberships: MembershipJson[] }>(
      baseUrl,
      "POST",
      "/organization/member_add",
      { organization_id: id, member: { role: "org_admin", user_id: `lead-${mode}` } },
    );
    expect(added.status).toBe(200);
    // The users as /user/list shows them, the one made for the member included.
    expect(added.json.updated_users).toEqual([expect.objectContaining({ user_id: `lead-${mode}`, user_role: "internal_user", spend: 0, key_count: 0 })]);
    expect(added.json.updated_organization_memberships).toEqual([expect.objectContaining({ user_id: `lead-${mode}`, organization_id: id, user_role: "org_admin", spend: 0 })]);
    const lead = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: `lead-${mode}` })).json.key;
    expect((await admin(baseUrl, "POST", "/user/new", { user_id: `outsider-${mode}`, user_role: "internal_user" })).status).toBe(200);
    const outsider = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: `outsider-${mode}` })).json.key;

    const byLead = await call<unknown>(lead, "POST", "/organization/member_add", {
      organization_id: id,
      member: [{ role: "internal_user", user_id: `hire-${mode}` }],
      max_budget_in_organization: RESERVATION + 0.9e-6,
    });
    expect(byLead.status).toBe(200);
    const refused = await call<ErrorJson>(outsider, "POST", "/organization/member_add", { organization_id: id, member: { role: "internal_user", user_id: "x" } });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toBe(`Only a proxy admin or an org_admin of organization=${id} may change its members and teams`);
    expect((await call(outsider, "GET", `/organization/info?organization_id=${id}`)).status).toBe(403);
    expect((await call(outsider, "POST", "/organization/new", { organization_alias: "Mine" })).status).toBe(401);

    // The hire's keys in the organization's teams are held to its budget there.
    const hire = await teamKey(id, `hire-${mode}`);
    await ask(hire.key);
    await expect(ask(hire.key)).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`User=hire-${mode} in Organization=${id}`) });
    const shown = await call<OrganizationJson>(lead, "GET", `/organization/info?organization_id=${id}`);
    expect(shown.json.members.find((m) => m.user_id === `hire-${mode}`)).toMatchObject({ user_role: "internal_user", litellm_budget_table: { max_budget: RESERVATION + 0.9e-6 } });
    expect(shown.json.members.find((m) => m.user_id === `hire-${mode}`)!.spend).toBeGreaterThan(0);
    const user = await admin<{ user_info: { organization_memberships: MembershipJson[] } }>(baseUrl, "GET", `/user/info?user_id=hire-${mode}`);
    expect(user.json.user_info.organization_memberships).toEqual([
      expect.objectContaining({ organization_id: id, user_role: "internal_user", litellm_budget_table: { max_budget: RESERVATION + 0.9e-6 }, spend: shown.json.members.find((m) => m.user_id === `hire-${mode}`)!.spend }),
    ]);

    const promoted = await call<MembershipJson>(lead, "PATCH", "/organization/member_update", { organization_id: id, user_id: `hire-${mode}`, max_budget_in_organization: null });
    expect(promoted.json).toMatchObject({ user_id: `hire-${mode}`, litellm_budget_table: null });
    expect((await ask(hire.key)).choices[0]?.message.content).toBe("Echo: organized");
    const removed = await call<MembershipJson>(lead, "DELETE", "/organization/member_delete", { organization_id: id, user_id: `hire-${mode}` });
    expect(removed.json).toMatchObject({ user_id: `hire-${mode}`, user_role: "internal_user" });
    const listed = await call<OrganizationJson[]>(lead, "GET", "/organization/list");
    expect(listed.json.map((o) => o.organization_id)).toEqual([id]);
    expect(listed.json[0]!.members.map((m) => m.user_id)).toEqual([`lead-${mode}`]);
  });

  it("lets an org_admin update, block and delete its organization's teams, within the organization's bounds, and no other team", async () => {
    const { organization_id: id } = await newOrganization({ organization_alias: "Run by a lead", max_budget: 10 });
    const { organization_id: otherId } = await newOrganization({ organization_alias: "Someone else's" });
    await admin(baseUrl, "POST", "/organization/member_add", { organization_id: id, member: { role: "org_admin", user_id: `runner-${mode}` } });
    await admin(baseUrl, "POST", "/organization/member_add", { organization_id: otherId, member: { role: "internal_user", user_id: `runner-${mode}` } });
    const lead = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { user_id: `runner-${mode}` })).json.key;
    const own = await teamKey(id);
    const other = await teamKey(otherId);
    const loose = (await admin<{ team_id: string }>(baseUrl, "POST", "/team/new", {})).json.team_id;

    const updated = await call<{ data: { max_budget: number; team_alias: string } }>(lead, "POST", "/team/update", { team_id: own.teamId, team_alias: "renamed", max_budget: 5 });
    expect(updated.status).toBe(200);
    expect(updated.json.data).toMatchObject({ team_alias: "renamed", max_budget: 5 });
    // The organization's bounds hold; it may not take the team out, or into an organization it does not run.
    expect((await call<ErrorJson>(lead, "POST", "/team/update", { team_id: own.teamId, max_budget: 11 })).json.error.message).toContain("is over organization");
    expect((await call(lead, "POST", "/team/update", { team_id: own.teamId, organization_id: null })).status).toBe(403);
    expect((await call(lead, "POST", "/team/update", { team_id: own.teamId, organization_id: otherId })).status).toBe(403);

    expect((await call(lead, "POST", "/team/block", { team_id: own.teamId })).status).toBe(200);
    await expect(ask(own.key)).rejects.toMatchObject({ status: 401 });
    expect((await call(lead, "POST", "/team/unblock", { team_id: own.teamId })).status).toBe(200);
    expect((await ask(own.key)).choices[0]?.message.content).toBe("Echo: organized");

    // Teams of an organization it is only a member of, and teams in none, stay the admins'.
    for (const teamId of [other.teamId, loose]) {
      for (const [path, body] of [
        ["/team/update", { team_id: teamId, team_alias: "taken" }],
        ["/team/block", { team_id: teamId }],
        ["/team/delete", { team_ids: [teamId] }],
      ] as const) {
        const refused = await call<ErrorJson>(lead, "POST", path, body);
        expect(refused.status, `${path} ${teamId}`).toBe(401);
        expect(refused.json.error.message).toContain("this key's role: internal_user");
      }
    }
    expect((await call(lead, "POST", "/team/delete", { team_ids: [own.teamId, other.teamId] })).status).toBe(401);
    const deleted = await call<{ deleted_teams: string[] }>(lead, "POST", "/team/delete", { team_ids: [own.teamId] });
    expect(deleted.json.deleted_teams).toEqual([own.teamId]);
    await expect(ask(own.key)).rejects.toMatchObject({ status: 401 });
    expect((await ask(other.key)).choices[0]?.message.content).toBe("Echo: organized");
  });

  it("counts the requests of its teams' keys and of keys that name it without a team, in its spend and daily activity", async () => {
    const { organization_id: id } = await newOrganization({ organization_alias: "Counted" });
    const { key: teamKeyValue } = await teamKey(id);
    const direct = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { organization_id: id })).json.key;
    const costs = [];
    for (const key of [teamKeyValue, direct]) {
      const { response } = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions
        .create({ model: "fast-model", messages: MESSAGES, max_tokens: 10 })
        .withResponse();
      costs.push((await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"] as number);
    }
    const total = costs[0]! + costs[1]!;
    // /key/list's organization_id lists both (and /key/info shows a team's key as the organization's).
    const listed = await admin<{ keys: { token: string; organization_id: string | null }[] }>(baseUrl, "GET", `/key/list?organization_id=${id}&return_full_object=true`);
    expect(listed.json.keys.map((k) => k.organization_id)).toEqual([id, id]);
    expect((await admin<OrganizationJson>(baseUrl, "GET", `/organization/info?organization_id=${id}`)).json.spend).toBeCloseTo(total, 12);
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const activity = await admin<{ metadata: { total_api_requests: number; total_spend: number }; results: { breakdown: { entities: Record<string, unknown> } }[] }>(
      baseUrl,
      "GET",
      `/organization/daily/activity?organization_ids=${id}&start_date=${day(-1)}&end_date=${day(1)}`,
    );
    expect(activity.json.metadata.total_api_requests).toBe(2);
    expect(activity.json.metadata.total_spend).toBeCloseTo(total, 12);
    expect(Object.keys(activity.json.results[0]!.breakdown.entities)).toEqual([id]);
  });

  it("answers bad bodies with OpenAI-style errors", async () => {
    for (const [method, path, body] of [
      ["POST", "/organization/new", {}],
      ["POST", "/organization/new", { organization_alias: "x", max_budget: "lots" }],
      ["POST", "/organization/new", { organization_alias: "x", budget_duration: "whenever" }],
      ["PATCH", "/organization/update", {}],
      ["POST", "/organization/member_add", { organization_id: "x" }],
      ["POST", "/organization/member_add", { organization_id: "x", member: { role: "emperor", user_id: "y" } }],
      ["DELETE", "/organization/delete", { organization_ids: [] }],
      ["POST", "/team/new", { organization_id: 7 }],
      ["POST", "/team/new", { organization_id: "no-such-organization" }],
    ] as const) {
      const { status, json } = await call<ErrorJson>(MASTER_KEY, method, path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error.type).toBe("invalid_request_error");
    }
  });
}

describe("organizations, one process", () => organizationTests(MODES[0]!));
describe("organizations, split services", () => organizationTests(MODES[1]!));
