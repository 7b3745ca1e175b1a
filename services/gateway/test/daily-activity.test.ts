import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's daily activity routes (user, team, organization, tag, customer), from the
// ledger's daily totals, after requests made with the official client: per
// user (every key of theirs), per key, per team, per organization, per request tag and per end
// user, and what each key may read.

interface Metrics {
  spend: number;
  api_requests: number;
  successful_requests: number;
  failed_requests: number;
  total_tokens: number;
}
type Breakdown = Record<string, { metrics: Metrics }>;
interface Activity {
  results: {
    date: string;
    metrics: Metrics;
    breakdown: { api_keys: Record<string, { metrics: Metrics; metadata: { key_alias: string | null } }>; entities: Breakdown; models: Breakdown; model_groups: Breakdown; providers: Breakdown };
  }[];
  metadata: { total_spend: number; total_api_requests: number; total_failed_requests: number; page: number; total_pages: number; has_more: boolean };
  error?: { message: string; type: string };
}

/** "fast-model" from OpenAI and "act-claude" from Anthropic, both on the fake provider. */
function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: act-claude
    litellm_params: { model: anthropic/claude-3-5-sonnet-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
const RANGE = `start_date=${day(-1)}&end_date=${day(1)}`;

function activityTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  const keys: Record<string, string> = {};
  const spent: Record<string, number> = {};

  const get = async (path: string, key = MASTER_KEY): Promise<{ status: number; json: Activity }> => {
    const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, json: (await res.json()) as Activity };
  };

  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, config);
    baseUrl = setup.gateway.baseUrl;
    expect((await admin(baseUrl, "POST", "/organization/new", { organization_id: "act-org", organization_alias: "Activity" })).status).toBe(200);
    expect((await admin(baseUrl, "POST", "/team/new", { team_id: "act-team", organization_id: "act-org" })).status).toBe(200);
    for (const userId of ["act-ana", "act-bo"]) {
      const { json } = await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: userId, key_alias: `${userId}-own` });
      keys[userId] = json.key;
    }
    await admin(baseUrl, "POST", "/team/member_add", { team_id: "act-team", member: { role: "user", user_id: "act-ana" } });
    await admin(baseUrl, "POST", "/organization/member_add", { organization_id: "act-org", member: { role: "internal_user", user_id: "act-ana" } });
    keys["ana-team"] = (await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { user_id: "act-ana", team_id: "act-team" })).json.key;
    // Ana: two requests on her own key, one on her team's; Bo one; the master key one.
    for (const who of ["act-ana", "act-ana", "ana-team", "act-bo", "master"]) {
      const { response } = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: keys[who] ?? MASTER_KEY, maxRetries: 0 }).chat.completions
        .create({ model: "fast-model", messages: [{ role: "user", content: `activity of ${who}` }] })
        .withResponse();
      const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      spent[who] = (spent[who] ?? 0) + (row["spend"] as number);
    }
  });
  afterAll(() => setup?.close());

  it("sums a user's keys per day, with a breakdown by key", async () => {
    const { status, json } = await get(`/user/daily/activity?user_id=act-ana&${RANGE}`);
    expect(status).toBe(200);
    expect(json.metadata).toMatchObject({ total_api_requests: 3, total_failed_requests: 0, page: 1, total_pages: 1, has_more: false });
    expect(json.metadata.total_spend).toBeCloseTo(spent["act-ana"]! + spent["ana-team"]!, 12);
    const [today] = json.results;
    expect(Object.values(today!.breakdown.api_keys).map((k) => k.metrics.api_requests).sort()).toEqual([1, 2]);
    expect(Object.values(today!.breakdown.api_keys).map((k) => k.metadata.key_alias)).toContain("act-ana-own");
    // Every key's, for the master key without user_id; one key's with api_key.
    expect((await get(`/user/daily/activity?${RANGE}`)).json.metadata.total_api_requests).toBe(5);
    expect((await get(`/user/daily/activity?user_id=act-ana&api_key=${keys["ana-team"]}&${RANGE}`)).json.metadata.total_api_requests).toBe(1);
    // Pages are of days; the aggregated form answers every day in one page, whatever page is asked for.
    expect((await get(`/user/daily/activity?user_id=act-ana&page=2&page_size=1&${RANGE}`)).json.results).toEqual([]);
    const whole = await get(`/user/daily/activity/aggregated?user_id=act-ana&page=2&page_size=1&${RANGE}`);
    expect(whole.json.results).toHaveLength(1);
    expect(whole.json.metadata).toMatchObject({ total_api_requests: 3, page: 1, total_pages: 1, has_more: false });
  });

  it("lets a user's key read its own user only", async () => {
    expect((await get(`/user/daily/activity?${RANGE}`, keys["act-ana"])).json.metadata.total_api_requests).toBe(3);
    const other = await get(`/user/daily/activity?user_id=act-bo&${RANGE}`, keys["act-ana"]);
    expect(other.status).toBe(403);
    expect(other.json.error?.type).toBe("permission_error");
    const { json: bare } = await admin<{ key: string }>(baseUrl, "POST", "/key/generate", {});
    expect((await get(`/user/daily/activity?${RANGE}`, bare.key)).status).toBe(401);
  });

  it("sums a team's keys, for admins and the team's members", async () => {
    const { json } = await get(`/team/daily/activity?team_ids=act-team&${RANGE}`);
    expect(json.metadata.total_api_requests).toBe(1);
    expect(json.metadata.total_spend).toBeCloseTo(spent["ana-team"]!, 12);
    expect(json.results[0]!.breakdown.entities["act-team"]!.metrics.api_requests).toBe(1);
    // Every team's, without team_ids; none outside a team.
    expect((await get(`/team/daily/activity?${RANGE}`)).json.metadata.total_api_requests).toBe(1);
    expect((await get(`/team/daily/activity?${RANGE}`, keys["act-ana"])).json.metadata.total_api_requests).toBe(1);
    expect((await get(`/team/daily/activity?team_ids=act-team&${RANGE}`, keys["act-bo"])).status).toBe(403);
  });

  it("sums an organization's teams, for admins and the organization's members", async () => {
    const { json } = await get(`/organization/daily/activity?organization_ids=act-org&${RANGE}`);
    expect(json.metadata.total_api_requests).toBe(1);
    expect(json.metadata.total_spend).toBeCloseTo(spent["ana-team"]!, 12);
    expect(Object.keys(json.results[0]!.breakdown.entities)).toEqual(["act-org"]);
    expect((await get(`/organization/daily/activity/aggregated?${RANGE}`, keys["act-ana"])).json.metadata.total_api_requests).toBe(1);
    // Bo is a member of none: he reads nothing, and asking for one is refused.
    expect((await get(`/organization/daily/activity?${RANGE}`, keys["act-bo"])).json.metadata.total_api_requests).toBe(0);
    expect((await get(`/organization/daily/activity?organization_ids=act-org&${RANGE}`, keys["act-bo"])).status).toBe(403);
  });

  it("sums each request tag's and end user's requests, for admins, and a user's own keys' for its key", async () => {
    const tagged = async (who: string, tags: string, user?: string) => {
      const { response } = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: keys[who]!, maxRetries: 0 }).chat.completions
        .create({ model: "fast-model", messages: [{ role: "user", content: `tagged ${tags}` }], ...(user && { user }) }, { headers: { "x-litellm-tags": tags } })
        .withResponse();
      await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    };
    await tagged("act-ana", "act-ticket-7,act-prod", "act-acme");
    await tagged("act-bo", "act-ticket-7");
    const one = await get(`/tag/daily/activity?tags=act-ticket-7&${RANGE}`);
    expect(one.status).toBe(200);
    expect(one.json.metadata.total_api_requests).toBe(2);
    expect(Object.keys(one.json.results[0]!.breakdown.entities)).toEqual(["act-ticket-7"]);
    // A request counts under each of its tags.
    const both = await get(`/tag/daily/activity?tags=act-ticket-7,act-prod&${RANGE}`);
    expect(both.json.metadata.total_api_requests).toBe(3);
    expect(both.json.results[0]!.breakdown.entities["act-prod"]!.metrics.api_requests).toBe(1);
    expect((await get(`/tag/daily/activity?tags=act-ticket-7&${RANGE}`, keys["act-ana"])).json.metadata.total_api_requests).toBe(1);

    // The same per end user (the body's user), under /customer and /end_user.
    const customer = await get(`/customer/daily/activity?end_user_ids=act-acme&${RANGE}`);
    expect(customer.json.metadata.total_api_requests).toBe(1);
    expect(Object.keys(customer.json.results[0]!.breakdown.entities)).toEqual(["act-acme"]);
    expect((await get(`/end_user/daily/activity/aggregated?${RANGE}`)).json.metadata.total_api_requests).toBe(1);
    expect((await get(`/customer/daily/activity?${RANGE}`, keys["act-bo"])).json.metadata.total_api_requests).toBe(0);
    // Never made a customer, the end user is shown as the ledger knows it.
    const info = (await fetch(`${baseUrl}/customer/info?end_user_id=act-acme`, { headers: { authorization: `Bearer ${MASTER_KEY}` } }).then((r) => r.json())) as { spend: number };
    expect(info.spend).toBeCloseTo(customer.json.metadata.total_spend, 12);
  });

  it("breaks each day down by provider, provider model and model group, and sums spend per provider and requests per day", async () => {
    const { json: cy } = await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: "act-cy" });
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: cy.key, maxRetries: 0 });
    const byProvider: Record<string, number> = {};
    let tokens = 0;
    let booked = "";
    for (const model of ["fast-model", "act-claude", "act-claude"]) {
      const { response } = await client.chat.completions.create({ model, messages: [{ role: "user", content: `to ${model}` }] }).withResponse();
      const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      const provider = row["custom_llm_provider"] as string;
      byProvider[provider] = (byProvider[provider] ?? 0) + (row["spend"] as number);
      tokens += row["total_tokens"] as number;
      booked = row["startTime"] as string;
    }
    const [today] = (await get(`/user/daily/activity?user_id=act-cy&${RANGE}`)).json.results;
    const requests = (breakdown: Breakdown) => Object.fromEntries(Object.entries(breakdown).map(([name, entry]) => [name, entry.metrics.api_requests]));
    expect(requests(today!.breakdown.providers)).toEqual({ openai: 1, anthropic: 2 });
    expect(requests(today!.breakdown.models)).toEqual({ "gpt-4o-mini": 1, "claude-3-5-sonnet-20241022": 2 });
    expect(requests(today!.breakdown.model_groups)).toEqual({ "fast-model": 1, "act-claude": 2 });

    // LiteLLM's /global/spend/provider: the same per provider, for Cy's key its own user's only.
    const res = await fetch(`${baseUrl}/global/spend/provider?${RANGE}`, { headers: { authorization: `Bearer ${cy.key}` } });
    expect(res.status).toBe(200);
    const perProvider = (await res.json()) as { provider: string; spend: number }[];
    expect(perProvider.map((p) => p.provider).sort()).toEqual(["anthropic", "openai"]);
    for (const { provider, spend } of perProvider) expect(spend).toBeCloseTo(byProvider[provider]!, 12);
    // Every key's, for the master key: at least Cy's.
    const all = (await (await fetch(`${baseUrl}/global/spend/provider?${RANGE}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })).json()) as { provider: string; spend: number }[];
    expect(all.find((p) => p.provider === "openai")!.spend).toBeGreaterThan(byProvider["openai"]!);

    // LiteLLM's request charts, for Cy's key its own user's only: per day, and per model group.
    const chart = async (path: string) => (await fetch(`${baseUrl}${path}?${RANGE}`, { headers: { authorization: `Bearer ${cy.key}` } })).json();
    const label = new Date(booked).toLocaleDateString("en-US", { month: "short", day: "2-digit", timeZone: "UTC" });
    expect(await chart("/global/activity")).toEqual({ daily_data: [{ date: label, api_requests: 3, total_tokens: tokens }], sum_api_requests: 3, sum_total_tokens: tokens });
    const byModel = (await chart("/global/activity/model")) as { model: string; sum_api_requests: number; daily_data: unknown[] }[];
    expect(byModel.map((m) => [m.model, m.sum_api_requests, m.daily_data.length])).toEqual([
      ["act-claude", 2, 1],
      ["fast-model", 1, 1],
    ]);
  });

  it("asks for both days", async () => {
    const missing = await get("/user/daily/activity?user_id=act-ana");
    expect(missing.status).toBe(400);
    expect(missing.json.error?.message).toBe("start_date is required, as YYYY-MM-DD");
  });
}

describe("daily activity, one process", () => activityTests(MODES[0]!));
describe("daily activity, split services", () => activityTests(MODES[1]!));
