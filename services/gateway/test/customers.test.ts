import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// LiteLLM's customers (end users) through the gateway in one process, on
// Postgres and NATS: the /customer/* routes, and a customer's block, budget
// and rate limits on the requests made for it, whatever the key.

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

interface CustomerJson {
  user_id: string;
  alias: string | null;
  blocked: boolean;
  spend: number;
  allowed_model_region: string | null;
  litellm_budget_table: { max_budget: number | null; rpm_limit: number | null; budget_reset_at: string | null } | null;
}

const MESSAGES = [{ role: "user" as const, content: "customer" }];
/** The most a request made for `endUser` in its body may cost, as the gateway reserves it (gpt-4o-mini's prices). */
const reservationFor = (endUser: string) => Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: MESSAGES, max_tokens: 10, user: endUser })) * 0.15e-6 + 10 * 0.6e-6;

/** A chat request made for `endUser` (the body's "user"), or with it in a header instead. */
const ask = (key: string, endUser: string, via: "body" | "header" = "body") =>
  new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create(
    { model: "fast-model", messages: MESSAGES, max_tokens: 10, ...(via === "body" && { user: endUser }) },
    via === "header" ? { headers: { "x-litellm-customer-id": endUser } } : {},
  );

async function newCustomer(body: Record<string, unknown>): Promise<CustomerJson> {
  const { status, json } = await admin<CustomerJson>(baseUrl, "POST", "/customer/new", body);
  expect(status).toBe(200);
  return json;
}

const info = (id: string) => admin<CustomerJson>(baseUrl, "GET", `/customer/info?end_user_id=${id}`);

describe("customers", () => {
  it("creates, shows, lists, updates and deletes customers as LiteLLM's routes do", async () => {
    const made = await newCustomer({ user_id: "acme", alias: "Acme", max_budget: 5, budget_duration: "30d", allowed_model_region: "eu" });
    expect(made).toMatchObject({ user_id: "acme", alias: "Acme", blocked: false, spend: 0, allowed_model_region: "eu", litellm_budget_table: { max_budget: 5 } });
    expect(Date.parse(made.litellm_budget_table!.budget_reset_at!)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const again = await admin<{ error: { message: string } }>(baseUrl, "POST", "/customer/new", { user_id: "acme" });
    expect(again.status).toBe(400);
    expect(again.json.error.message).toContain("Customer already exists, passed user_id=acme");

    const updated = await admin<CustomerJson>(baseUrl, "POST", "/customer/update", { user_id: "acme", rpm_limit: 10, max_budget: null });
    expect(updated.json.litellm_budget_table).toMatchObject({ max_budget: null, rpm_limit: 10 });
    expect((await admin<CustomerJson[]>(baseUrl, "GET", "/customer/list")).json.map((c) => c.user_id)).toContain("acme");
    // LiteLLM's /end_user/ names for the same routes.
    expect((await admin<CustomerJson>(baseUrl, "GET", "/end_user/info?end_user_id=acme")).json).toMatchObject({ user_id: "acme", alias: "Acme" });

    const unknown = await info("nobody");
    expect(unknown.status).toBe(404);
    expect((unknown.json as unknown as { error: { message: string } }).error.message).toBe("End User Id=nobody does not exist in db");
    expect((await admin(baseUrl, "POST", "/customer/delete", { user_ids: ["acme", "nobody"] })).status).toBe(404);
    const deleted = await admin(baseUrl, "POST", "/customer/delete", { user_ids: ["acme"] });
    expect(deleted.json).toEqual({ deleted_customers: 1, message: 'Successfully deleted customers with ids: ["acme"]', deleted_user_ids: ["acme"] });
    expect((await info("acme")).status).toBe(404);
  });

  it("refuses requests made for a blocked end user, named in the body or a header, whatever the key", async () => {
    const key = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json.key;
    // Blocking an end user not yet known makes it a customer, as in LiteLLM.
    const blocked = await admin<{ blocked_users: CustomerJson[] }>(baseUrl, "POST", "/customer/block", { user_ids: ["mallory"] });
    expect(blocked.json.blocked_users).toMatchObject([{ user_id: "mallory", blocked: true }]);
    for (const bearer of [key, MASTER_KEY]) {
      await expect(ask(bearer, "mallory")).rejects.toMatchObject({ status: 400, code: "customer_blocked", message: expect.stringContaining("User blocked from making LLM API Calls. User=mallory") });
      await expect(ask(bearer, "mallory", "header")).rejects.toMatchObject({ status: 400 });
    }
    expect((await ask(key, "alice")).choices[0]?.message.content).toBe("Echo: customer");
    await admin(baseUrl, "POST", "/customer/unblock", { user_ids: ["mallory"] });
    expect((await ask(key, "mallory")).choices[0]?.message.content).toBe("Echo: customer");
  });

  it("holds an end user to its budget across keys, the master key's requests included", async () => {
    await newCustomer({ user_id: "frugal", max_budget: reservationFor("frugal") + 0.9e-6 });
    const [a, b] = [(await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json.key, (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json.key];
    await ask(a, "frugal");
    await expect(ask(b, "frugal")).rejects.toMatchObject({ status: 400, message: expect.stringContaining("ExceededBudget: End User=frugal over budget.") });
    await expect(ask(MASTER_KEY, "frugal")).rejects.toMatchObject({ status: 400 });
    // Other end users of the same keys are not held to it.
    expect((await ask(b, "generous")).choices[0]?.message.content).toBe("Echo: customer");
    expect((await info("frugal")).json.spend).toBeGreaterThan(0);
  });

  it("counts an end user's requests per minute over every key at once", async () => {
    await newCustomer({ user_id: "chatty", rpm_limit: 3 });
    const key = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json.key;
    const results = await Promise.allSettled([key, MASTER_KEY, key, MASTER_KEY, key, MASTER_KEY].map((k) => ask(k, "chatty")));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    // Every one not served refused by the customer's limit: another failure must not pass for one.
    for (const r of results.filter((r) => r.status === "rejected")) expect(r).toMatchObject({ reason: { status: 429, type: "rate_limit_error", message: expect.stringContaining("for this customer") } });
  });

  it("books each request's end user in the ledger, and shows a customer without a budget the ledger's spend", async () => {
    await newCustomer({ user_id: "ledgered" });
    const key = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json;
    await ask(key.key, "ledgered", "header");
    const rows = await eventually("the ledger to book the request", async () => {
      const { json } = await admin<{ end_user: string; spend: number }[]>(baseUrl, "GET", `/spend/logs?api_key=${key.token}`);
      return json.length > 0 ? json : undefined;
    });
    expect(rows).toMatchObject([{ end_user: "ledgered" }]);
    expect((await info("ledgered")).json.spend).toBeCloseTo(rows[0]!.spend, 12);
  });

  it("shows an end user that made requests without being made a customer, as LiteLLM records it on its first request", async () => {
    const key = (await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", {})).json;
    expect((await info("walk-in")).status).toBe(404);
    await ask(key.key, "walk-in");
    await ask(key.key, "walk-in", "header");
    const shown = await eventually("the ledger to book both requests", async () => {
      const { status, json } = await info("walk-in");
      const rows = (await admin<{ spend: number }[]>(baseUrl, "GET", `/spend/logs?api_key=${key.token}`)).json;
      return status === 200 && rows.length === 2 && json.spend >= rows[0]!.spend + rows[1]!.spend - 1e-12 ? { json, rows } : undefined;
    });
    expect(shown.json).toMatchObject({ user_id: "walk-in", alias: null, blocked: false, litellm_budget_table: null });
    expect(shown.json.spend).toBeCloseTo(shown.rows[0]!.spend + shown.rows[1]!.spend, 12);
    const listed = (await admin<CustomerJson[]>(baseUrl, "GET", "/customer/list")).json;
    expect(listed.filter((c) => c.user_id === "walk-in")).toEqual([expect.objectContaining({ spend: shown.json.spend, litellm_budget_table: null })]);
    // Made a customer later, it is listed once, with its row.
    await newCustomer({ user_id: "walk-in", alias: "Regular" });
    expect((await admin<CustomerJson[]>(baseUrl, "GET", "/customer/list")).json.filter((c) => c.user_id === "walk-in")).toEqual([expect.objectContaining({ alias: "Regular" })]);
  });

  it("answers bad customer requests with OpenAI-style errors", async () => {
    for (const [path, body] of [
      ["/customer/new", {}],
      ["/customer/new", { user_id: "x", max_budget: "lots" }],
      ["/customer/new", { user_id: "x", allowed_model_region: "mars" }],
      ["/customer/update", {}],
      ["/customer/block", { user_ids: [] }],
      ["/customer/delete", {}],
    ] as const) {
      const { status, json } = await admin<{ error: { message: string } }>(baseUrl, "POST", path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error.message).toBeTruthy();
    }
    expect((await admin(baseUrl, "POST", "/customer/unblock", { user_ids: ["never-seen"] })).status).toBe(404);
  });
});
