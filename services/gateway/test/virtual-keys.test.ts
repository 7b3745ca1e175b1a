import { hashKey } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

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
  gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url, "  litellm_key_header_name: X-Gateway-Key\n"), { databaseUrl: database.url, nats: bus }));
  baseUrl = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

beforeEach(() => {
  Object.assign(provider.behavior, { latencyMs: 0, chunkDelayMs: 0 });
});

const client = (key: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 });
const ask = (key: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client(key).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hello there" }], ...extra });

async function generate(body: Record<string, unknown>): Promise<GeneratedKey> {
  const { status, json } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", body);
  expect(status).toBe(200);
  return json;
}

async function ledgerSpend(keyHash: string): Promise<{ rows: number; spend: number }> {
  const res = await fetch(`${baseUrl}/spend/logs?api_key=${keyHash}&limit=1000`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  const rows = (await res.json()) as { spend: number }[];
  return { rows: rows.length, spend: rows.reduce((sum, r) => sum + r.spend, 0) };
}

interface KeyInfo {
  token: string;
  key_name: string;
  spend: number;
  max_budget: number | null;
  budget_reset_at: string | null;
  created_at: string | null;
}

/** /key/info as the given key (the master key unless told) asks for it. */
async function keyInfo(key: string | undefined, bearer = MASTER_KEY): Promise<{ status: number; json: { key: string; info: KeyInfo } }> {
  const res = await fetch(`${baseUrl}/key/info${key === undefined ? "" : `?key=${key}`}`, { headers: { authorization: `Bearer ${bearer}` } });
  return { status: res.status, json: (await res.json()) as { key: string; info: KeyInfo } };
}

describe("virtual keys", () => {
  it("mints a key shown once and stored only as its hash", async () => {
    const minted = await generate({ models: ["fast-model"], max_budget: 5, duration: "30d", key_alias: "homelab-cli" });
    expect(minted.key).toMatch(/^sk-[A-Za-z0-9_-]{32,}$/);
    expect(minted.token).toMatch(/^[0-9a-f]{64}$/);
    // LiteLLM's GenerateKeyResponse names the hash token_id as well as token.
    expect(minted.token_id).toBe(minted.token);
    expect(Date.parse(minted.expires!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const sql = postgres(database.url, { max: 1 });
    try {
      const rows = await sql`SELECT row_to_json(k)::text AS row FROM keys.virtual_keys k`;
      expect(rows.length).toBeGreaterThan(0);
      for (const { row } of rows) expect(row).not.toContain(minted.key);
    } finally {
      await sql.end();
    }
    const answer = await ask(minted.key);
    expect(answer.choices[0]?.message.content).toBe("Echo: hello there");
    expect(provider.requests.some((r) => JSON.stringify(r).includes(minted.key))).toBe(false);
  });

  it("takes the key from LiteLLM's x-litellm-api-key header over Authorization, which a client may use for something else", async () => {
    const minted = await generate({ key_alias: "behind-another-auth" });
    const viaHeader = (value: string) =>
      new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "token-for-someone-else", defaultHeaders: { "x-litellm-api-key": value }, maxRetries: 0 }).chat.completions.create({
        model: "fast-model",
        messages: [{ role: "user", content: "hello there" }],
      });
    for (const value of [minted.key, `Bearer ${minted.key}`]) expect((await viaHeader(value)).choices[0]?.message.content).toBe("Echo: hello there");
    await expect(viaHeader("sk-not-a-key-0123456789")).rejects.toMatchObject({ status: 401 });
  });

  it("takes the key from the header general_settings.litellm_key_header_name names, ahead of every other", async () => {
    const minted = await generate({ key_alias: "in-a-custom-header" });
    const headers = { "x-gateway-key": minted.key, "x-litellm-api-key": "sk-not-a-key-0123456789" };
    const answer = await new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "token-for-someone-else", defaultHeaders: headers, maxRetries: 0 }).chat.completions.create({
      model: "fast-model",
      messages: [{ role: "user", content: "hello there" }],
    });
    expect(answer.choices[0]?.message.content).toBe("Echo: hello there");
  });

  it("refuses models outside the key's list with 401 naming the model", async () => {
    const minted = await generate({ models: ["other-model"] });
    await expect(ask(minted.key)).rejects.toMatchObject({ status: 401, message: expect.stringContaining("fast-model") });
  });

  it("answers /key/info with LiteLLM's shape and spend equal to the ledger's sum", async () => {
    const minted = await generate({ max_budget: 1 });
    await ask(minted.key);
    await ask(minted.key);
    const ledger = await eventually("two ledger rows", async () => {
      const l = await ledgerSpend(minted.token);
      return l.rows === 2 ? l : undefined;
    });
    const { status, json } = await admin<{ key: string; info: { spend: number; max_budget: number; models: string[] } }>(
      baseUrl,
      "GET",
      `/key/info?key=${minted.key}`,
    );
    expect(status).toBe(200);
    expect(json.key).toBe(minted.key);
    expect(json.info.max_budget).toBe(1);
    expect(json.info.spend).toBeGreaterThan(0);
    expect(json.info.spend).toBeCloseTo(ledger.spend, 12);
  });

  it("blocks, unblocks, regenerates and deletes keys, each taking effect at once", async () => {
    const minted = await generate({ key_alias: "to-revoke" });
    await ask(minted.key);
    expect((await admin(baseUrl, "POST", "/key/block", { key: minted.key })).status).toBe(200);
    await expect(ask(minted.key)).rejects.toMatchObject({ status: 401 });
    expect((await admin(baseUrl, "POST", "/key/unblock", { key: minted.key })).status).toBe(200);
    await ask(minted.key);
    const regenerated = await admin<GeneratedKey>(baseUrl, "POST", `/key/${minted.key}/regenerate`, {});
    expect(regenerated.status).toBe(200);
    expect(regenerated.json.key).not.toBe(minted.key);
    expect(regenerated.json.token_id).toBe(hashKey(regenerated.json.key));
    await expect(ask(minted.key)).rejects.toMatchObject({ status: 401 });
    await ask(regenerated.json.key);
    expect((await admin(baseUrl, "POST", "/key/delete", { key_aliases: ["to-revoke"] })).status).toBe(200);
    await expect(ask(regenerated.json.key)).rejects.toMatchObject({ status: 401 });
    expect((await admin(baseUrl, "GET", `/key/info?key=${regenerated.json.key}`)).status).toBe(404);
  });

  it("deletes the keys a list names and skips those it does not, as LiteLLM does; a list naming none is a 404", async () => {
    const [one, two] = [await generate({ key_alias: "delete-one" }), await generate({ key_alias: "delete-two" })];
    const deleted = await admin<{ deleted_keys: string[] }>(baseUrl, "POST", "/key/delete", { keys: [one.key, "sk-never-issued-0123456789"], key_aliases: ["delete-two", "no-such-alias"] });
    expect(deleted).toMatchObject({ status: 200, json: { deleted_keys: [one.key, "delete-two"] } });
    for (const gone of [one, two]) await expect(ask(gone.key)).rejects.toMatchObject({ status: 401 });
    const none = await admin<{ error: { type: string } }>(baseUrl, "POST", "/key/delete", { keys: [one.key], key_aliases: ["no-such-alias"] });
    expect(none).toMatchObject({ status: 404, json: { error: { type: "not_found_error" } } });
  });

  it("answers a virtual key's /key/info about itself, with or without ?key=, as the master key's, and refuses it other keys'", async () => {
    const mine = await generate({ key_alias: "reads-itself", max_budget: 2 });
    const other = await generate({ key_alias: "read-by-no-one-else" });
    const asMaster = await keyInfo(mine.key);
    expect(asMaster.status).toBe(200);
    // Without ?key=, LiteLLM reports on the bearer key and names it by its hash.
    expect(await keyInfo(undefined, mine.key)).toEqual({ status: 200, json: { key: mine.token, info: asMaster.json.info } });
    expect(await keyInfo(mine.key, mine.key)).toEqual({ status: 200, json: asMaster.json });
    for (const someoneElse of [other.key, other.token, "sk-no-such-key-0123456789"]) {
      const refused = await keyInfo(someoneElse, mine.key);
      expect(refused.status).toBe(403);
      expect(refused.json).toMatchObject({ error: { type: "permission_error" } });
    }
  });

  it("answers /v2/key/info about each key listed that the caller may see, as /key/info does", async () => {
    const first = await generate({ key_alias: "v2-first" });
    const second = await generate({ key_alias: "v2-second" });
    const v2 = (keys: unknown, bearer = MASTER_KEY) => admin<{ key: string[]; info: KeyInfo[]; error: { message: string } }>(baseUrl, "POST", "/v2/key/info", { keys }, bearer);
    const both = await v2([first.key, second.token, "sk-no-such-key-0123456789"]);
    expect(both.status).toBe(200);
    expect(both.json.key).toEqual([first.key, second.token, "sk-no-such-key-0123456789"]);
    expect(both.json.info).toEqual([(await keyInfo(first.key)).json.info, (await keyInfo(second.key)).json.info]);
    // A virtual key sees itself only.
    expect((await v2([first.key, second.key], first.key)).json.info.map((k) => k.token)).toEqual([first.token]);
    const none = await v2(["sk-no-such-key-0123456789"]);
    expect(none.status).toBe(404);
    expect(none.json.error.message).toBe("No keys found");
    expect((await v2(undefined)).status).toBe(400);
    expect((await v2("sk-not-a-list")).status).toBe(400);
  });

  it("answers the master key's /key/info without ?key= about the master key itself", async () => {
    const { status, json } = await keyInfo(undefined);
    expect(status).toBe(200);
    expect(json.key).toBe(hashKey(MASTER_KEY));
    expect(json.info).toMatchObject({ token: hashKey(MASTER_KEY), key_name: `sk-...${MASTER_KEY.slice(-4)}`, max_budget: null, created_at: null });
  });

  it("keeps a regenerated key's spend everywhere it is shown, the spend its budget is held to", async () => {
    const messages = [{ role: "user" as const, content: "regenerate" }];
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages, max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    // One request fits; a second reservation on top of what it spent does not.
    const budgeted = await generate({ key_alias: "regenerated-with-budget", max_budget: reservation + 0.9e-6 });
    await ask(budgeted.key, { messages, max_tokens: 10 });
    const spent = await eventually("the request's cost settled", async () => {
      const { json } = await keyInfo(budgeted.key);
      return json.info.spend > 0 ? json.info.spend : undefined;
    });
    const regenerated = await admin<GeneratedKey>(baseUrl, "POST", `/key/${budgeted.key}/regenerate`, {});
    expect(regenerated.json.spend).toBe(spent);
    expect((await keyInfo(regenerated.json.key)).json.info.spend).toBe(spent);
    const listed = await admin<{ keys: KeyInfo[] }>(baseUrl, "GET", "/key/list?key_alias=regenerated-with-budget&return_full_object=true");
    expect(listed.json.keys.map((k) => k.spend)).toEqual([spent]);
    const refused = (await ask(regenerated.json.key, { messages, max_tokens: 10 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(refused.status).toBe(400);
    expect(refused.message).toContain(`Current cost: ${spent},`);

    // Without a budget, the spend is the ledger's, under the key's old hash too.
    const plain = await generate({ key_alias: "regenerated-without-budget" });
    await ask(plain.key);
    const ledger = await eventually("the ledger row", async () => {
      const l = await ledgerSpend(plain.token);
      return l.rows === 1 ? l : undefined;
    });
    const again = await admin<GeneratedKey>(baseUrl, "POST", "/key/regenerate", { key: plain.key });
    expect(again.json.spend).toBeCloseTo(ledger.spend, 12);
    expect((await keyInfo(again.json.key)).json.info.spend).toBeCloseTo(ledger.spend, 12);
  });

  it("counts what a key spent before a budget was set on it, or its budget period changed", async () => {
    const minted = await generate({ key_alias: "budget-set-later" });
    await Promise.all([ask(minted.key), ask(minted.key)]);
    const ledger = await eventually("the ledger's rows", async () => {
      const l = await ledgerSpend(minted.token);
      return l.rows === 2 ? l : undefined;
    });
    // A lifetime budget of exactly what was spent: the key shows it spent, and has nothing left.
    const capped = await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: minted.key, max_budget: ledger.spend });
    expect(capped.json.spend).toBeCloseTo(ledger.spend, 12);
    expect((await keyInfo(minted.key)).json.info.spend).toBeCloseTo(ledger.spend, 12);
    const refused = (await ask(minted.key).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(refused.status).toBe(400);

    // Room for more, then a budget period: the period starts from the same spend; changing the amount alone keeps it.
    await admin(baseUrl, "POST", "/key/update", { key: minted.key, max_budget: 1 });
    await ask(minted.key);
    const before = await eventually("the third request's cost settled", async () => {
      const { json } = await keyInfo(minted.key);
      return json.info.spend > ledger.spend ? json.info.spend : undefined;
    });
    const periodic = await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: minted.key, budget_duration: "30d" });
    expect(periodic.json.budget_reset_at).not.toBeNull();
    expect(periodic.json.spend).toBeCloseTo(before, 12);
    const raised = await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: minted.key, max_budget: 2 });
    expect(raised.json.spend).toBeCloseTo(before, 12);
    const shorter = await admin<GeneratedKey>(baseUrl, "POST", `/key/${minted.key}/regenerate`, { budget_duration: "7d" });
    expect(shorter.json.spend).toBeCloseTo(before, 12);
    // Back to a period it had: that window's spend is not counted twice.
    const back = await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: shorter.json.key, budget_duration: "30d" });
    expect(back.json.spend).toBeCloseTo(before, 12);
  });

  it("reads LiteLLM's week and month durations", async () => {
    const minted = await generate({ duration: "2w", budget_duration: "1mo", max_budget: 1 });
    const { json } = await keyInfo(minted.key);
    const created = Date.parse(json.info.created_at!);
    expect(Date.parse(minted.expires!) - created).toBeGreaterThan(14 * 86_400_000 - 60_000);
    expect(Date.parse(minted.expires!) - created).toBeLessThan(14 * 86_400_000 + 60_000);
    const resetIn = Date.parse(json.info.budget_reset_at!) - created;
    expect(resetIn).toBeGreaterThanOrEqual(28 * 86_400_000);
    expect(resetIn).toBeLessThanOrEqual(31 * 86_400_000);
  });

  it("refuses an expired key", async () => {
    const minted = await generate({ duration: "1s" });
    await ask(minted.key);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await expect(ask(minted.key)).rejects.toMatchObject({ status: 401, message: expect.stringContaining("expired") });
  });

  it("lists keys and updates them", async () => {
    const minted = await generate({ user_id: "list-user", models: [] });
    const updated = await admin<{ rpm_limit: number; user_id: string }>(baseUrl, "POST", "/key/update", { key: minted.key, rpm_limit: 100 });
    expect(updated.status).toBe(200);
    expect(updated.json.rpm_limit).toBe(100);
    const list = await admin<{ keys: string[]; total_count: number }>(baseUrl, "GET", "/key/list?user_id=list-user");
    expect(list.json).toMatchObject({ keys: [minted.token], total_count: 1 });
    // LiteLLM's key_hash filter: that key alone, or none.
    const byHash = await admin<{ keys: string[]; total_count: number }>(baseUrl, "GET", `/key/list?key_hash=${minted.token}`);
    expect(byHash.json).toEqual({ keys: [minted.token], total_count: 1, current_page: 1, total_pages: 1 });
    const full = await admin<{ keys: { token: string; user_id: string }[] }>(baseUrl, "GET", `/key/list?key_hash=${minted.token}&return_full_object=true`);
    expect(full.json.keys).toMatchObject([{ token: minted.token, user_id: "list-user" }]);
    const none = await admin<{ keys: string[]; total_count: number }>(baseUrl, "GET", `/key/list?key_hash=${"0".repeat(64)}`);
    expect(none.json).toEqual({ keys: [], total_count: 0, current_page: 1, total_pages: 0 });
    const otherUser = await admin<{ keys: string[] }>(baseUrl, "GET", `/key/list?key_hash=${minted.token}&user_id=someone-else`);
    expect(otherUser.json.keys).toEqual([]);
    // null takes a limit away, as in LiteLLM.
    const cleared = await admin<{ rpm_limit: number | null; user_id: string }>(baseUrl, "POST", "/key/update", { key: minted.key, rpm_limit: null });
    expect(cleared.json).toMatchObject({ rpm_limit: null, user_id: "list-user" });
  });

  it("sets a key's spend as LiteLLM's spend field does: the budget period's with a budget, else beside the ledger's", async () => {
    const info = async (key: string) => (await admin<{ info: KeyInfo }>(baseUrl, "GET", `/key/info?key=${key}`)).json.info;
    // Without a budget: shown beside the ledger's sum, from the key's creation on.
    const moved = await generate({ spend: 3 });
    expect(moved.spend).toBe(3);
    await ask(moved.key);
    const booked = await eventually("the ledger row", async () => {
      const l = await ledgerSpend(moved.token);
      return l.rows === 1 ? l : undefined;
    });
    expect((await info(moved.key)).spend).toBeCloseTo(3 + booked.spend, 12);
    const reset = await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: moved.key, spend: 0 });
    expect(reset.json.spend).toBeCloseTo(0, 12);
    // A budget set later counts from that.
    expect((await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: moved.key, max_budget: 10, spend: 2 })).json.spend).toBe(2);
    expect((await info(moved.key)).spend).toBe(2);

    // With a budget: the period's spend, which the budget holds the key to.
    const budgeted = await generate({ max_budget: 1, spend: 1 });
    expect(budgeted.spend).toBe(1);
    await expect(ask(budgeted.key)).rejects.toMatchObject({ status: 400, error: { type: "budget_exceeded" } });
    expect((await admin<KeyInfo>(baseUrl, "POST", "/key/update", { key: budgeted.key, spend: 0.5 })).json.spend).toBe(0.5);
    await ask(budgeted.key);
    const spent = await eventually("the settled spend", async () => {
      const s = (await info(budgeted.key)).spend;
      return s > 0.5 ? s : undefined;
    });
    expect(spent).toBeLessThan(0.51);
    // LiteLLM's /key/{key}/reset_spend (the key or its hash in the path): at most what it shows as spent.
    expect((await admin(baseUrl, "POST", `/key/${budgeted.token}/reset_spend`, { reset_to: 0.9 })).status).toBe(400);
    const resetRoute = await admin<Record<string, unknown>>(baseUrl, "POST", `/key/${budgeted.key}/reset_spend`, { reset_to: 0 });
    expect(resetRoute.json).toEqual({ key_hash: budgeted.token, spend: 0, previous_spend: spent, max_budget: 1, budget_reset_at: null });
    expect((await info(budgeted.key)).spend).toBe(0);
    expect((await admin(baseUrl, "POST", `/key/${budgeted.token}/reset_spend`, {})).status).toBe(400);

    // Only an admin sets a key's spend.
    const user = (await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: "spend-setter" })).json.key;
    const own = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { max_budget: 1 }, user)).json;
    const refused = await admin<{ error: { message: string } }>(baseUrl, "POST", "/key/update", { key: own.key, spend: 0 }, user);
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/Only an admin may set a key's spend/);
    expect((await admin(baseUrl, "POST", "/key/update", { key: own.key, spend: -1 })).status).toBe(400);
  });

  it("updates many keys at once with /key/bulk_update, listing those it could not", async () => {
    const [a, b] = [await generate({}), await generate({})];
    const bulk = await admin<{ total_requested: number; successful_updates: { key: string; key_info: KeyInfo & { rpm_limit: number } }[]; failed_updates: { key: string; failed_reason: string }[] }>(
      baseUrl,
      "POST",
      "/key/bulk_update",
      { keys: [{ key: a.key, rpm_limit: 7 }, { key: "sk-no-such-key-0000000000", rpm_limit: 7 }, { key: b.token, max_budget: 2, rpm_limit: "many" }, { key: b.token, max_budget: 2 }] },
    );
    expect(bulk.status).toBe(200);
    expect(bulk.json.total_requested).toBe(4);
    expect(bulk.json.successful_updates.map((u) => [u.key, u.key_info.token])).toEqual([
      [a.key, a.token],
      [b.token, b.token],
    ]);
    expect(bulk.json.successful_updates[0]!.key_info.rpm_limit).toBe(7);
    expect(bulk.json.failed_updates.map((f) => f.key)).toEqual(["sk-no-such-key-0000000000", b.token]);
    expect(bulk.json.failed_updates[1]!.failed_reason).toMatch(/rpm_limit/);
    expect((await admin<{ info: KeyInfo }>(baseUrl, "GET", `/key/info?key=${b.key}`)).json.info.max_budget).toBe(2);
    expect((await admin(baseUrl, "POST", "/key/bulk_update", { keys: [] })).status).toBe(400);
  });

  it("sorts /key/list as LiteLLM does: newest first, or by sort_by and sort_order", async () => {
    const made: GeneratedKey[] = [];
    for (const [alias, budget] of [["sort-b", 3], ["sort-a", 1], ["sort-c", 2]] as const) made.push(await generate({ user_id: "sort-user", key_alias: alias, max_budget: budget }));
    const list = async (query: string) => (await admin<{ keys: string[]; error?: { param: string } }>(baseUrl, "GET", `/key/list?user_id=sort-user${query}`)).json;
    const tokens = (...i: number[]) => i.map((n) => made[n]!.token);
    expect((await list("")).keys).toEqual(tokens(2, 1, 0));
    expect((await list("&sort_by=created_at&sort_order=asc")).keys).toEqual(tokens(0, 1, 2));
    expect((await list("&sort_by=key_alias&sort_order=ASC")).keys).toEqual(tokens(1, 0, 2));
    expect((await list("&sort_by=max_budget")).keys).toEqual(tokens(0, 2, 1));
    expect((await list("&sort_by=max_budget&size=2&page=2")).keys).toEqual(tokens(1));
    for (const [query, param] of [["&sort_by=spend", "sort_by"], ["&sort_by=bogus", "sort_by"], ["&sort_order=up", "sort_order"], ["&status=deleted", "status"]] as const) {
      expect((await list(query)).error?.param, query).toBe(param);
    }
  });

  it("takes LiteLLM's blocked, soft_budget, key_type and duration -1 on /key/generate and /key/update", async () => {
    const blocked = await generate({ blocked: true, soft_budget: 2.5 });
    expect(blocked).toMatchObject({ blocked: true, soft_budget: 2.5 });
    await expect(ask(blocked.key)).rejects.toMatchObject({ status: 401 });

    const key = await generate({ duration: "1d" });
    expect(key).toMatchObject({ blocked: false, soft_budget: null });
    await ask(key.key);
    const update = (body: Record<string, unknown>, as = MASTER_KEY) => admin<KeyInfo & { blocked: boolean; soft_budget: number | null; expires: string | null }>(baseUrl, "POST", "/key/update", { key: key.key, ...body }, as);
    expect((await update({ blocked: true })).json.blocked).toBe(true);
    await expect(ask(key.key)).rejects.toMatchObject({ status: 401 });
    expect((await update({ blocked: false, soft_budget: 1 })).json).toMatchObject({ blocked: false, soft_budget: 1 });
    await ask(key.key);
    // "-1" is LiteLLM's older null: the key no longer expires.
    const forever = await update({ duration: "-1", soft_budget: null });
    expect(forever.json).toMatchObject({ expires: null, soft_budget: null });
    expect((await update({ blocked: "yes" })).status).toBe(400);

    // A key's user may change its key, but not block or unblock it.
    const user = (await admin<{ key: string }>(baseUrl, "POST", "/user/new", { user_id: "blocking-user" })).json.key;
    const own = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {}, user)).json;
    const refused = await admin<{ error: { message: string } }>(baseUrl, "POST", "/key/update", { key: own.key, blocked: true }, user);
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/Only an admin may block or unblock a key/);

    // key_type stands for a route group, as LiteLLM's does.
    const readOnly = await generate({ key_type: "read_only", allowed_routes: ["/chat/completions"] });
    expect(readOnly).toMatchObject({ allowed_routes: ["info_routes"] });
    await expect(ask(readOnly.key)).rejects.toMatchObject({ status: 403 });
    expect(await generate({ key_type: "llm_api" })).toMatchObject({ allowed_routes: ["llm_api_routes"] });
    expect(await generate({ key_type: "default", allowed_routes: ["/chat/completions"] })).toMatchObject({ allowed_routes: ["/chat/completions"] });
    expect((await admin(baseUrl, "POST", "/key/generate", { key_type: "superuser" })).status).toBe(400);
  });

  it("pages /key/list within LiteLLM's bounds, and shows the spend of keys regenerated more times than one ledger call takes", async () => {
    for (let i = 0; i < 3; i++) await generate({ user_id: "paged-user" });
    const page = (query: string) => admin<{ keys: string[]; total_count: number; current_page: number; total_pages: number; error?: { param: string } }>(baseUrl, "GET", `/key/list?user_id=paged-user&${query}`);
    const second = await page("size=2&page=2");
    expect(second.json).toMatchObject({ total_count: 3, current_page: 2, total_pages: 2 });
    expect(second.json.keys).toHaveLength(1);
    // A page larger than the keys service serves would report too few pages.
    for (const [query, param] of [["size=101", "size"], ["size=0", "size"], ["page=0", "page"], ["page=two", "page"]] as const) {
      const refused = await page(query);
      expect(refused.status).toBe(400);
      expect(refused.json.error?.param).toBe(param);
    }

    const rotated = await generate({ key_alias: "rotated-often" });
    await ask(rotated.key);
    const ledger = await eventually("the ledger row", async () => {
      const l = await ledgerSpend(rotated.token);
      return l.rows === 1 ? l : undefined;
    });
    let key = rotated.key;
    for (let i = 0; i < 1000; i++) key = (await admin<GeneratedKey>(baseUrl, "POST", "/key/regenerate", { key })).json.key;
    const listed = await admin<{ keys: KeyInfo[] }>(baseUrl, "GET", "/key/list?key_alias=rotated-often&return_full_object=true");
    expect(listed.status).toBe(200);
    expect(listed.json.keys[0]!.spend).toBeCloseTo(ledger.spend, 12);
    // A thousand regenerations one after another: about 25 s alone, over a minute beside the rest of the suite.
  }, 180_000);

  it("keeps management routes to the master key", async () => {
    const minted = await generate({});
    const res = await fetch(`${baseUrl}/key/generate`, { method: "POST", headers: { authorization: `Bearer ${minted.key}` }, body: "{}" });
    expect(res.status).toBe(401);
    const spend = await fetch(`${baseUrl}/spend/logs`, { headers: { authorization: `Bearer ${minted.key}` } });
    expect(spend.status).toBe(401);
  });

  it("rejects bad management input with OpenAI-style 400s", async () => {
    for (const body of [{ duration: "soon" }, { max_budget: -1 }, { models: "fast-model" }, { key: "short" }]) {
      const { status, json } = await admin<{ error: { type: string } }>(baseUrl, "POST", "/key/generate", body);
      expect(status).toBe(400);
      expect(json.error.type).toBe("invalid_request_error");
    }
    await generate({ key_alias: "taken" });
    expect((await admin(baseUrl, "POST", "/key/generate", { key_alias: "taken" })).status).toBe(400);
  });
});

describe("limits", () => {
  it("holds a max_parallel_requests lowered while requests are in flight, and serves up to it once they finish", async () => {
    // Sends `n` requests at once; resolves to each one's status.
    const burst = (key: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => ask(key, { max_tokens: 5 }).then(() => 200, (err: { status?: number }) => err.status ?? 0)));
    const { json: minted } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { max_parallel_requests: 4 });
    // Long enough for requests to be in flight together.
    const holdMs = 1500;
    provider.behavior.latencyMs = holdMs;
    const first = burst(minted.key, 4);
    await eventually("four requests at the provider", async () => (provider.inFlight === 4 ? true : undefined));
    expect((await admin(baseUrl, "POST", "/key/update", { key: minted.key, max_parallel_requests: 2 })).status).toBe(200);
    // Four in flight: no room under the new limit.
    expect(await burst(minted.key, 1)).toEqual([429]);
    expect(await first).toEqual([200, 200, 200, 200]);
    // What the four held goes back as they finish; a replica may refuse for
    // up to a second while the sum has room (docs/design-notes.md), never longer.
    provider.behavior.latencyMs = 0;
    await eventually("the key served again", async () => ((await burst(minted.key, 1))[0] === 200 ? true : undefined), 3000);
    provider.behavior.latencyMs = holdMs;
    const after = await burst(minted.key, 3);
    expect(after.filter((s) => s === 200)).toHaveLength(2);
    expect(after.filter((s) => s === 429)).toHaveLength(1);
  });

  it("rate-limits by rpm with 429, retry-after and x-ratelimit headers", async () => {
    const minted = await generate({ rpm_limit: 2 });
    const first = await client(minted.key).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "a" }] }).withResponse();
    expect(first.response.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.response.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    await ask(minted.key);
    const err = (await ask(minted.key).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(Number(err.headers?.get("retry-after"))).toBeGreaterThan(0);
    expect(err.headers?.get("x-ratelimit-remaining-requests")).toBe("0");
  });

  it("rate-limits by tpm once a window's tokens are used", async () => {
    const minted = await generate({ tpm_limit: 30 });
    const first = await client(minted.key)
      .chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }] })
      .withResponse();
    expect(first.response.headers.get("x-ratelimit-limit-tokens")).toBe("30");
    let limited = false;
    for (let i = 0; i < 5 && !limited; i++) {
      limited = await ask(minted.key, { messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }] }).then(
        () => false,
        (err: unknown) => {
          // Served or refused by the limit: another failure must not pass for a request served.
          expect(err).toMatchObject({ status: 429, type: "rate_limit_error" });
          return true;
        },
      );
    }
    expect(limited).toBe(true);
  });

  it("serves every one of 50 concurrent requests on a fresh key whose limits have room", async () => {
    // All 50 arrive before this replica holds any of the key's allowances.
    const minted = await generate({ max_budget: 1000, rpm_limit: 1_000_000, tpm_limit: 100_000_000, max_parallel_requests: 1000 });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ask(minted.key)));
    expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
  });

  it("holds a budget exactly under 50 concurrent requests and settles to the ledger", async () => {
    // Long enough that all 50 are admitted or refused before the first one
    // finishes and settles its reservation, however busy the machine is.
    provider.behavior.latencyMs = 2500;
    const messages = [{ role: "user" as const, content: "budget" }];
    // The reservation is the most a request can cost: its body's bytes as
    // prompt tokens plus max_tokens, at gpt-4o-mini's prices.
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages, max_tokens: 10 }));
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    const maxBudget = reservation * 5.5;
    const minted = await generate({ max_budget: maxBudget });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ask(minted.key, { messages, max_tokens: 10 })));
    const served = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as InstanceType<typeof OpenAI.APIError>);
    expect(served).toBe(5);
    expect(refused).toHaveLength(45);
    for (const err of refused) {
      expect(err.status).toBe(400);
      expect(err.type).toBe("budget_exceeded");
      // Nothing has settled yet: the spend is 0, and the five admitted hold the rest.
      expect(err.message).toMatch(/Budget has been exceeded! Current cost: 0 \(\+\S+ reserved for requests in flight\), Max budget: /);
      expect(err.message).toContain(`Max budget: ${maxBudget}`);
    }
    const ledger = await eventually("five ledger rows", async () => {
      const l = await ledgerSpend(minted.token);
      return l.rows === 5 ? l : undefined;
    });
    expect(ledger.spend).toBeLessThanOrEqual(maxBudget);
    const info = await admin<{ info: { spend: number } }>(baseUrl, "GET", `/key/info?key=${minted.key}`);
    expect(info.json.info.spend).toBeCloseTo(ledger.spend, 12);
    // Settled to real costs, the budget has room again.
    provider.behavior.latencyMs = 0;
    await ask(minted.key, { messages, max_tokens: 10 });
  });

  it("reserves max_tokens for each of the n answers a request asks for, so concurrent requests stay within the budget", async () => {
    provider.behavior.latencyMs = 2500;
    const messages = [{ role: "user" as const, content: "budget" }];
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages, max_tokens: 10, n: 10 }));
    // The prompt once, and ten answers of up to 10 tokens each.
    const reservation = bodyBytes * 0.15e-6 + 10 * 10 * 0.6e-6;
    const maxBudget = reservation * 2.5;
    const minted = await generate({ max_budget: maxBudget });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => ask(minted.key, { messages, max_tokens: 10, n: 10 })));
    const served = results.filter((r): r is PromiseFulfilledResult<OpenAI.ChatCompletion> => r.status === "fulfilled");
    expect(served).toHaveLength(2);
    for (const r of served) expect(r.value.choices).toHaveLength(10);
    const ledger = await eventually("two ledger rows", async () => {
      const l = await ledgerSpend(minted.token);
      return l.rows === 2 ? l : undefined;
    });
    expect(ledger.spend).toBeLessThanOrEqual(maxBudget);
  });

  it("tells a key with a budget that a model does not exist, as it tells the master key, rather than refusing it for the budget", async () => {
    // Any model here may cost more than this budget.
    const minted = await generate({ max_budget: 0.00003 });
    for (const key of [minted.key, MASTER_KEY]) {
      const err = (await ask(key, { model: "fast-modle" }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err.status).toBe(400);
      expect(err.code).toBe("model_not_found");
      expect(err.message).toContain("fast-modle");
    }
    expect((await keyInfo(minted.key)).json.info.spend).toBe(0);
  });

  it("tells a budget's spend, not its reservations, as the current cost of a refusal", async () => {
    // The first request alone may cost more than this budget.
    const minted = await generate({ max_budget: 0.00003 });
    const err = (await ask(minted.key, { max_tokens: 100 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/Budget has been exceeded! Current cost: 0, Max budget: 0\.00003\. This request may cost up to \S+\./);
    expect((await keyInfo(minted.key)).json.info.spend).toBe(0);
  });

  it("shows the current budget period's spend in /key/info and /key/list, zero again once the period turns", async () => {
    const minted = await generate({ key_alias: "period-spend", max_budget: 1, budget_duration: "2s" });
    // Asked again until one request and the look at it fall in the same period.
    const spent = await eventually("a period's spend", async () => {
      await ask(minted.key);
      const { json } = await keyInfo(minted.key);
      return json.info.spend > 0 ? json.info : undefined;
    });
    await eventually("the next period", async () => {
      const { json } = await keyInfo(minted.key);
      return json.info.spend === 0 && json.info.budget_reset_at !== spent.budget_reset_at ? json : undefined;
    });
    const listed = await admin<{ keys: KeyInfo[] }>(baseUrl, "GET", "/key/list?key_alias=period-spend&return_full_object=true");
    expect(listed.json.keys.map((k) => k.spend)).toEqual([0]);
    // The ledger keeps every period's.
    await eventually("the ledger's rows", async () => ((await ledgerSpend(minted.token)).spend >= spent.spend ? true : undefined));
  });

  it("resets a budget at the end of its budget_duration", async () => {
    const messages = [{ role: "user" as const, content: "period" }];
    const bodyBytes = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages, max_tokens: 10 }));
    // The fake provider counts 4 prompt and 2 completion tokens here, so a
    // request really costs 1.8e-6: the budget fits one reservation, but not
    // a second one on top of what the first spent.
    const reservation = bodyBytes * 0.15e-6 + 10 * 0.6e-6;
    const minted = await generate({ max_budget: reservation + 0.9e-6, budget_duration: "2s" });
    await ask(minted.key, { messages, max_tokens: 10 });
    const info = await admin<{ info: { budget_reset_at: string } }>(baseUrl, "GET", `/key/info?key=${minted.key}`);
    expect(Date.parse(info.json.info.budget_reset_at)).toBeGreaterThan(Date.now() - 1000);
    // Settled spend plus a new reservation no longer fits in this period…
    await expect(ask(minted.key, { messages, max_tokens: 10 })).rejects.toMatchObject({ status: 400, type: "budget_exceeded" });
    // …and fits again in the next one.
    const next = await eventually(
      "the next budget period",
      () =>
        ask(minted.key, { messages, max_tokens: 10 }).then(
          (a) => a,
          (err: unknown) => {
            // Refused by the budget until its period ends, and for nothing else.
            expect(err).toMatchObject({ status: 400, type: "budget_exceeded" });
            return undefined;
          },
        ),
      5000,
    );
    expect(next.choices[0]?.message.content).toBe("Echo: period");
  });

  it("frees the parallel slot when a client disconnects mid-stream", async () => {
    provider.behavior.chunkDelayMs = 50;
    const minted = await generate({ max_parallel_requests: 1 });
    const abort = new AbortController();
    const stream = await client(minted.key).chat.completions.create(
      { model: "fast-model", stream: true, messages: [{ role: "user", content: "one two three four five six seven eight" }] },
      { signal: abort.signal },
    );
    const reader = stream[Symbol.asyncIterator]();
    await reader.next();
    // While the stream runs, the key's one slot is taken; a slot frees whenever a request ends.
    const busy = (await ask(minted.key).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(busy.status).toBe(429);
    expect(busy.headers?.get("retry-after")).toBe("1");
    abort.abort();
    await reader.next().catch(() => undefined);
    provider.behavior.chunkDelayMs = 0;
    const answer = await eventually("the slot to come back", () =>
      ask(minted.key).then(
        (a) => a,
        (err: unknown) => {
          // Refused while the slot is still taken, and for nothing else.
          expect(err).toMatchObject({ status: 429, type: "rate_limit_error" });
          return undefined;
        },
      ),
    );
    expect(answer.choices[0]?.message.content).toBe("Echo: hello there");
  });
});
