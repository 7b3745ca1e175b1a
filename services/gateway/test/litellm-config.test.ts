import { startFakeProvider } from "@gateway/fake-provider";
import { createTestDatabase, type TestDatabase } from "@gateway/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// A LiteLLM config as people have them: the database named in general_settings,
// and settings of LiteLLM's that this gateway does not implement.
describe("a LiteLLM config.yaml with general_settings.database_url and settings this gateway does not implement", () => {
  const processes = new ProcessGroup();
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await processes.close();
    await database?.drop();
  });

  it("keeps its keys and ledger in that Postgres rather than the embedded database, and names what it ignores", async () => {
    const configPath = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: local-model
    litellm_params: { model: openai/llama-local, api_base: "http://127.0.0.1:9/v1" }
litellm_settings:
  cache: true
  cache_params: { type: redis, host: redis.internal }
  success_callback: ["langfuse"]
general_settings:
  master_key: ${MASTER_KEY}
  database_url: os.environ/LITELLM_DB
`);
    // Without DATABASE_URL, one process would otherwise keep everything in embedded PGlite.
    const gateway = await processes.start("all", { configPath, env: { DATABASE_URL: "", NATS_URL: "", FAKE_PROVIDER_KEY: PROVIDER_KEY, LITELLM_DB: database.url } });
    expect(gateway.output()).not.toContain("embedded database ready");
    expect(gateway.output()).toMatch(/"ignored":\["litellm_settings\.cache_params\.host","litellm_settings\.success_callback: langfuse"\]/);
    // type redis shares answers over NATS; one process on its own bus has no one to share with, and the start says so.
    expect(gateway.output()).toMatch(/"msg":"response cache: one process with its own bus, so answers are kept in its memory/);
    // A model the price list does not know, without prices of its own, is booked at no cost: the start says which.
    expect(gateway.output()).toMatch(/"unpriced":\["local-model \(openai\/llama-local\)"\]/);

    const { status } = await admin(gateway.url, "POST", "/key/generate", { key_alias: "in-the-configured-database" });
    expect(status).toBe(200);
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ key_alias: string }[]>`SELECT key_alias FROM keys.virtual_keys`;
      expect(rows.map((r) => r.key_alias)).toEqual(["in-the-configured-database"]);
    } finally {
      await sql.end();
    }
    expect(await gateway.stop()).toBe(0);
  });

  it("names a misspelled setting with the one it was likely meant for, and a section's setting written at the top level with its section", async () => {
    const provider = await startFakeProvider();
    try {
      const typos = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: sk-x }
litellm_settings:
  drop_param: true
  request_timout: 30
  set_verbose: true
general_settings:
  master_key: ${MASTER_KEY}
`);
      const gateway = await processes.start("all", { configPath: typos, env: { DATABASE_URL: "", NATS_URL: "", GATEWAY_DATA_DIR: "" } });
      expect(gateway.output()).toContain(
        '"ignored":["litellm_settings.drop_param (did you mean drop_params?)","litellm_settings.request_timout (did you mean request_timeout?)","litellm_settings.set_verbose"]',
      );
      expect(await gateway.stop()).toBe(0);

      const unindented = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: sk-x }
general_settings:
master_key: ${MASTER_KEY}
`);
      const start = processes.start("all", { configPath: unindented, env: { DATABASE_URL: "", NATS_URL: "", GATEWAY_DATA_DIR: "", LITELLM_MASTER_KEY: "" } });
      // The warning is a log line on stdout, the refusal a line on stderr: they may arrive in either order.
      const refused = String(await start.catch((err: unknown) => err));
      expect(refused).toMatch(/exited \(2\) before listening:\n/);
      expect(refused).toContain("master_key (did you mean general_settings.master_key? indent it under general_settings:)");
      expect(refused).toContain("general_settings.master_key (or the LITELLM_MASTER_KEY variable) must be set");
    } finally {
      await provider.close();
    }
    // Two starts, on a machine that may be busy.
  }, 90_000);

  it("names general_settings.database_url, not DATABASE_URL, when the Postgres it names does not answer", async () => {
    const configPath = writeConfig(`
general_settings:
  master_key: ${MASTER_KEY}
  database_url: postgres://gateway:db-password-123@127.0.0.1:1/ledger
`);
    const start = processes.start("all", { configPath, env: { DATABASE_URL: "", NATS_URL: "", GATEWAY_START_WAIT_SECONDS: "0" } });
    await expect(start).rejects.toThrow(/exited \(1\) before listening:\n[^]*cannot reach Postgres at 127\.0\.0\.1:1\/ledger \(general_settings\.database_url\)/);
    await expect(start).rejects.not.toThrow(/db-password-123/);
  });
});
