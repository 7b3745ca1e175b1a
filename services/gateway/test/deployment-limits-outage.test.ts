import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestDatabase, StatementCuts, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

// A deployment under an rpm (usage-based routing) takes its lease from
// Postgres; when that statement's connection is cut, the call fails as the
// database being unavailable (503, which clients retry), not as a bug (500
// "internal error", logged with the statement), and the next call is served.

describe("a deployment's rate-limit lease whose Postgres connection is cut", () => {
  const processes = new ProcessGroup();
  let database: TestDatabase;
  let cuts: StatementCuts;
  let provider: FakeProvider;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    [database, provider] = await Promise.all([createTestDatabase(), startFakeProvider()]);
    cuts = await StatementCuts.inFrontOf(database.url);
    const configPath = writeConfig(`
model_list:
  - model_name: limited
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY, rpm: 100 }
router_settings:
  routing_strategy: usage-based-routing
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
    gateway = await processes.start("all", { configPath, env: { DATABASE_URL: cuts.urlTo(database.url), NATS_URL: "", FAKE_PROVIDER_KEY: PROVIDER_KEY } });
  }, 120_000);

  afterAll(async () => {
    await processes.close();
    await cuts?.close();
    await database?.drop();
    await provider?.close();
  });

  it("answers 503 service_unavailable, logs no unexpected failure, and serves the next call", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: "limited", messages: [{ role: "user", content: "take a lease" }] });
    cuts.cutWhenSent('INSERT INTO "router"."deployment_allowances"');
    const failure = await ask().then(
      () => undefined,
      (err: unknown) => err as { status?: number; error?: { type?: string; message?: string } },
    );
    expect(cuts.armed).toBe(false);
    expect(failure).toMatchObject({ status: 503, error: { type: "service_unavailable", message: "the database is unavailable" } });
    expect(provider.requests).toHaveLength(0);
    expect((await ask()).choices[0]?.message.content).toBeTruthy();
    expect(gateway.output()).not.toContain("failed unexpectedly");
  });
});
