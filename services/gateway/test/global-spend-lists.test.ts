import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's spend lists for its admin UI (/global/spend/logs, /teams, /tags,
// /all_tag_names, /end_users, /global/all_end_users), after requests made
// with the official client by keys in a team with an alias, a team without
// one, no team, and an internal user's key.

const today = () => new Date().toISOString().slice(0, 10);

function listTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  const keys: Record<string, GeneratedKey> = {};
  const spent: Record<string, number> = {};
  let total = 0;

  const get = async <T,>(path: string, key = MASTER_KEY) => admin<T>(baseUrl, "GET", path, undefined, key);

  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, fakeOpenAIConfig);
    baseUrl = setup.gateway.baseUrl;
    expect((await admin(baseUrl, "POST", "/team/new", { team_id: "gsl-growth", team_alias: "Growth" })).status).toBe(200);
    expect((await admin(baseUrl, "POST", "/team/new", { team_id: "gsl-bare" })).status).toBe(200);
    keys["growth"] = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { team_id: "gsl-growth" })).json;
    keys["bare"] = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { team_id: "gsl-bare" })).json;
    keys["loose"] = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json;
    keys["ana"] = (await admin<GeneratedKey>(baseUrl, "POST", "/user/new", { user_id: "gsl-ana" })).json;
    const calls: [who: string, tags: string, user?: string][] = [
      ["growth", "gsl-a", "gsl-acme"],
      ["growth", "gsl-a,gsl-b", "gsl-acme"],
      ["bare", "gsl-b"],
      ["loose", "", "gsl-globex"],
      ["ana", ""],
    ];
    for (const [who, tags, user] of calls) {
      const { response } = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: keys[who]!.key, maxRetries: 0 }).chat.completions
        .create({ model: "fast-model", messages: [{ role: "user", content: `${who} asks` }], ...(user && { user }) }, tags ? { headers: { "x-litellm-tags": tags } } : {})
        .withResponse();
      const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      spent[who] = (spent[who] ?? 0) + (row["spend"] as number);
      total += row["spend"] as number;
    }
  });
  afterAll(() => setup?.close());

  it("/global/spend/logs: spend per day over the last 30 days, of every key, one key, or an internal user's own", async () => {
    const all = await get<{ date: string; spend: number }[]>("/global/spend/logs");
    expect(all.status).toBe(200);
    expect(all.json).toEqual([{ date: today(), spend: expect.closeTo(total, 12) }]);
    const one = await get(`/global/spend/logs?api_key=${keys["growth"]!.key}`);
    expect(one.json).toEqual([{ date: today(), spend: expect.closeTo(spent["growth"]!, 12), api_key: keys["growth"]!.token_id }]);
    // The hash names the key as well.
    expect((await get(`/global/spend/logs?api_key=${keys["bare"]!.token_id}`)).json).toEqual([{ date: today(), spend: expect.closeTo(spent["bare"]!, 12), api_key: keys["bare"]!.token_id }]);
    const own = await get("/global/spend/logs", keys["ana"]!.key);
    expect(own.json).toEqual([{ date: today(), spend: expect.closeTo(spent["ana"]!, 12), api_key: keys["ana"]!.token_id, user: "gsl-ana" }]);
    // A key of no user reads no spend.
    expect((await get("/global/spend/logs", keys["loose"]!.key)).status).toBe(401);
  });

  it("/global/spend/teams: spend per day and team, named by alias, keys outside a team as Unassigned", async () => {
    const { status, json } = await get<{ daily_spend: Record<string, unknown>[]; teams: string[]; total_spend_per_team: { team_id: string; total_spend: number }[] }>("/global/spend/teams");
    expect(status).toBe(200);
    expect(json.daily_spend).toEqual([
      {
        date: today(),
        Growth: expect.closeTo(spent["growth"]!, 12),
        "gsl-bare": expect.closeTo(spent["bare"]!, 12),
        Unassigned: expect.closeTo(spent["loose"]! + spent["ana"]!, 12),
      },
    ]);
    expect([...json.teams].sort()).toEqual(["Growth", "Unassigned", "gsl-bare"]);
    const ranked = json.total_spend_per_team.map((t) => t.total_spend);
    expect(ranked).toEqual([...ranked].sort((a, b) => b - a));
    expect(json.total_spend_per_team.find((t) => t.team_id === "Growth")!.total_spend).toBeCloseTo(spent["growth"]!, 12);
    // Everyone's spend: for admins (and viewers) only.
    expect((await get("/global/spend/teams", keys["ana"]!.key)).status).toBe(401);
  });

  it("/global/spend/tags: spend and requests per tag over the days given, highest first, narrowed by tags", async () => {
    const range = `start_date=${today()}&end_date=${today()}`;
    const { json } = await get<{ spend_per_tag: { name: string; spend: number; log_count: number }[] }>(`/global/spend/tags?${range}`);
    const byName = Object.fromEntries(json.spend_per_tag.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual(["gsl-a", "gsl-b"]);
    expect([byName["gsl-a"]!.log_count, byName["gsl-b"]!.log_count]).toEqual([2, 2]);
    expect(byName["gsl-b"]!.spend).toBeGreaterThan(spent["bare"]!);
    const spends = json.spend_per_tag.map((t) => t.spend);
    expect(spends).toEqual([...spends].sort((a, b) => b - a));
    expect(json.spend_per_tag.find((t) => t.name === "gsl-a")!.spend).toBeCloseTo(spent["growth"]!, 12);
    expect((await get<{ spend_per_tag: { name: string }[] }>(`/global/spend/tags?${range}&tags=gsl-b`)).json.spend_per_tag.map((t) => t.name)).toEqual(["gsl-b"]);
    expect((await get<{ spend_per_tag: unknown[] }>(`/global/spend/tags?${range}&tags=all-tags`)).json.spend_per_tag).toHaveLength(2);
    expect((await get<{ spend_per_tag: unknown[] }>("/global/spend/tags?start_date=2024-01-01&end_date=2024-01-31")).json.spend_per_tag).toEqual([]);
    const missing = await get<{ error: { message: string; param: string } }>(`/global/spend/tags?start_date=${today()}`);
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatchObject({ message: "end_date is required, as YYYY-MM-DD", param: "end_date" });
    // Postgres's dates start at year 0001, JavaScript's at 0000.
    expect((await get("/global/spend/tags?start_date=0000-01-01&end_date=0000-12-01")).status).toBe(400);
    expect((await get("/user/daily/activity?start_date=0000-01-01&end_date=0000-12-01")).status).toBe(400);
    expect((await get<{ tag_names: string[] }>("/global/spend/all_tag_names")).json.tag_names.sort()).toEqual(["gsl-a", "gsl-b"]);
  });

  it("/global/spend/end_users: end users by spend over the last 30 days or the times given, of every key or one", async () => {
    const all = await admin<{ end_user: string; total_count: number; total_spend: number }[]>(baseUrl, "POST", "/global/spend/end_users", {});
    expect(all.status).toBe(200);
    const acme = { end_user: "gsl-acme", total_count: 2, total_spend: expect.closeTo(spent["growth"]!, 12) };
    const globex = { end_user: "gsl-globex", total_count: 1, total_spend: expect.closeTo(spent["loose"]!, 12) };
    // Highest spend first; requests that named no end user are not counted.
    expect(all.json).toEqual(spent["growth"]! > spent["loose"]! ? [acme, globex] : [globex, acme]);
    const byKey = await admin<{ end_user: string }[]>(baseUrl, "POST", "/global/spend/end_users", { api_key: keys["loose"]!.key });
    expect(byKey.json.map((u) => u.end_user)).toEqual(["gsl-globex"]);
    const before = await admin<unknown[]>(baseUrl, "POST", "/global/spend/end_users", { startTime: "2024-01-01T00:00:00Z", endTime: "2024-02-01T00:00:00Z" });
    expect(before.json).toEqual([]);
    const bad = await admin<{ error: { param: string } }>(baseUrl, "POST", "/global/spend/end_users", { startTime: "last week" });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe("startTime");
    expect((await get<{ end_users: string[] }>("/global/all_end_users")).json.end_users.sort()).toEqual(["gsl-acme", "gsl-globex"]);
    expect((await admin(baseUrl, "POST", "/global/spend/end_users", {}, keys["ana"]!.key)).status).toBe(401);
  });
}

describe("global spend lists, one process", () => listTests(MODES[0]!));
describe("global spend lists, split services", () => listTests(MODES[1]!));
