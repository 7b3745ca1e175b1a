import { sameMinute } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's tag budgets through the gateway, with the official client: the
// /tag/* routes, and a tag's budget and rate limits on every request that
// carries it (its own tags, or its key's), whatever the key; in one process
// and split, where the edge keeps Authorize answers per key.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

interface TagJson {
  name: string;
  description: string | null;
  models: string[] | null;
  spend: number;
  max_budget: number | null;
  budget_reset_at: string | null;
  rpm_limit: number | null;
  litellm_budget_table: { max_budget: number | null; budget_duration: string | null } | null;
}

type ErrorJson = { error: { message: string; type: string; code: string } };

const MESSAGES = [{ role: "user" as const, content: "tagged" }];
/** The most a request of this body may cost, as the gateway reserves it (gpt-4o-mini's prices, each byte at most a token). */
const RESERVATION = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: MESSAGES, max_tokens: 10 })) * 0.15e-6 + 10 * 0.6e-6;

function tagBudgetTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, config);
    baseUrl = setup.gateway.baseUrl;
  });
  afterAll(() => setup?.close());

  const newKey = async (body: Record<string, unknown> = {}) => (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", body)).json.key;
  /** A chat request carrying `tags` in the x-litellm-tags header (none: no header). */
  const ask = (key: string, tags: string[] = []) =>
    new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create(
      { model: "fast-model", messages: MESSAGES, max_tokens: 10 },
      tags.length > 0 ? { headers: { "x-litellm-tags": tags.join(",") } } : {},
    );
  async function newTag(body: Record<string, unknown>): Promise<TagJson> {
    const { status, json } = await admin<{ message: string; tag: TagJson }>(baseUrl, "POST", "/tag/new", body);
    expect(status).toBe(200);
    expect(json.message).toBe(`Tag ${body["name"] as string} created successfully`);
    return json.tag;
  }
  const settled = (results: PromiseSettledResult<unknown>[]) => results.filter((r) => r.status === "fulfilled").length;

  it("creates, shows, lists, updates and deletes tags as LiteLLM's routes do", async () => {
    const made = await newTag({ name: "engineering", description: "Engineering cost center", models: ["fast-model"], max_budget: 500, budget_duration: "30d" });
    expect(made).toMatchObject({ name: "engineering", description: "Engineering cost center", models: ["fast-model"], spend: 0, max_budget: 500 });
    expect(made.litellm_budget_table).toMatchObject({ max_budget: 500, budget_duration: "30d" });
    expect(Date.parse(made.budget_reset_at!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const again = await admin<ErrorJson>(baseUrl, "POST", "/tag/new", { name: "engineering" });
    expect(again.status).toBe(400);
    expect(again.json.error.message).toBe("Tag engineering already exists");

    const updated = await admin<{ message: string; tag: TagJson }>(baseUrl, "POST", "/tag/update", { name: "engineering", rpm_limit: 100, max_budget: null });
    expect(updated.json.message).toBe("Tag engineering updated successfully");
    expect(updated.json.tag).toMatchObject({ max_budget: null, rpm_limit: 100, description: "Engineering cost center" });
    const info = await admin<Record<string, TagJson>>(baseUrl, "POST", "/tag/info", { names: ["engineering"] });
    expect(Object.keys(info.json)).toEqual(["engineering"]);
    expect(info.json["engineering"]).toMatchObject({ name: "engineering", rpm_limit: 100 });
    const missing = await admin<ErrorJson>(baseUrl, "POST", "/tag/info", { names: ["engineering", "marketing"] });
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toBe("Tags not found: marketing");

    // A tag only requests carried is listed after those made, with the ledger's spend.
    await ask(MASTER_KEY, ["seen-only"]);
    const listed = await admin<TagJson[]>(baseUrl, "GET", "/tag/list");
    const names = listed.json.map((t) => t.name);
    expect(names).toContain("engineering");
    await expect
      .poll(async () => (await admin<TagJson[]>(baseUrl, "GET", "/tag/list")).json.find((t) => t.name === "seen-only"), { timeout: 10_000 })
      .toMatchObject({ models: null, spend: expect.any(Number) });

    expect((await admin(baseUrl, "POST", "/tag/delete", { name: "engineering" })).json).toEqual({ message: "Tag engineering deleted successfully" });
    const gone = await admin<ErrorJson>(baseUrl, "POST", "/tag/delete", { name: "engineering" });
    expect(gone.status).toBe(404);
    expect(gone.json.error.message).toBe("Tag engineering not found");
  });

  it("lets only the master key manage tags, and answers bad bodies with OpenAI-style errors", async () => {
    const key = await newKey();
    for (const [method, path, body] of [
      ["POST", "/tag/new", { name: "intruder" }],
      ["POST", "/tag/info", { names: ["intruder"] }],
      ["GET", "/tag/list", undefined],
      ["POST", "/tag/delete", { name: "intruder" }],
    ] as const) {
      const res = await fetch(`${baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, ...(body && { body: JSON.stringify(body) }) });
      expect(res.status, path).toBe(401);
    }
    expect((await admin(baseUrl, "POST", "/tag/info", { names: ["intruder"] })).status).toBe(404);
    for (const [path, body] of [
      ["/tag/new", {}],
      ["/tag/new", { name: "x", max_budget: "lots" }],
      ["/tag/new", { name: "x", budget_duration: "whenever" }],
      ["/tag/update", {}],
      ["/tag/info", {}],
      ["/tag/delete", {}],
    ] as const) {
      const { status, json } = await admin<ErrorJson>(baseUrl, "POST", path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error.message).toBeTruthy();
    }
  });

  it("holds every request carrying the tag to its budget, whatever the key, the master key's and tagged keys' too", async () => {
    await newTag({ name: "frugal", max_budget: RESERVATION + 0.9e-6 });
    const [a, b, tagged] = [await newKey(), await newKey(), await newKey({ metadata: { tags: ["frugal"] } })];
    await ask(a, ["frugal"]);
    for (const [key, tags] of [
      [b, ["other", "frugal"]],
      [MASTER_KEY, ["frugal"]],
      [tagged, []],
    ] as const) {
      await expect(ask(key, [...tags])).rejects.toMatchObject({
        status: 400,
        type: "budget_exceeded",
        message: expect.stringContaining("Budget has been exceeded! Tag=frugal Current cost: "),
      });
    }
    // Requests without the tag are not held to it.
    expect((await ask(b, ["generous"])).choices[0]?.message.content).toBe("Echo: tagged");
    expect((await ask(a)).choices[0]?.message.content).toBe("Echo: tagged");
    const shown = (await admin<Record<string, TagJson>>(baseUrl, "POST", "/tag/info", { names: ["frugal"] })).json["frugal"]!;
    expect(shown.spend).toBeGreaterThan(0.9e-6);
    expect(shown.spend).toBeLessThan(RESERVATION);
  });

  it("counts a tag's requests per minute over every key, with many in flight", async () => {
    await newTag({ name: "chatty", rpm_limit: 3 });
    const keys = [await newKey(), MASTER_KEY, await newKey({ metadata: { tags: ["chatty"] } })];
    // The untagged keys have asked once, so a split edge keeps an answer for each: a tagged request must not be let through on it.
    for (const key of keys.slice(0, 2)) await ask(key);
    await sameMinute(10_000);
    const results = await Promise.allSettled(Array.from({ length: 9 }, (_, i) => ask(keys[i % 3]!, i % 3 === 2 ? [] : ["chatty"])));
    expect(settled(results)).toBe(3);
    // Every one not served refused by the tag's limit: another failure must not pass for one.
    for (const r of results.filter((r) => r.status === "rejected")) expect(r).toMatchObject({ reason: { status: 429, type: "rate_limit_error", message: expect.stringContaining("for this tag") } });
  });

  it("holds requests to a tag made after the same key's requests carried it", async () => {
    const key = await newKey();
    // Authorized (and, split, kept by the edge) while the tag had no limits.
    await ask(key, ["late"]);
    await ask(key, ["late"]);
    await newTag({ name: "late", max_parallel_requests: 0 });
    await expect(ask(key, ["late"])).rejects.toMatchObject({ status: 429, message: expect.stringContaining("max_parallel_requests (0) reached for this tag") });
    expect((await ask(key)).choices[0]?.message.content).toBe("Echo: tagged");
  });
}

describe("tag budgets, one process", () => tagBudgetTests(MODES[0]!));
describe("tag budgets, split services", () => tagBudgetTests(MODES[1]!));
