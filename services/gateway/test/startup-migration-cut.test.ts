import { createTestDatabase, StatementCuts, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// The connection to Postgres breaks while the start runs the keys schema's
// migrations (a proxy between them cuts it when the first CREATE TABLE of
// those passes): the start says so in one line and exits 1, and the next
// start, on a connection left alone, runs them and serves. A break after the
// migrations is one line too.

const FIRST_KEYS_TABLE = 'CREATE TABLE "keys"."allowances"';

describe("a start whose Postgres connection breaks", () => {
  const processes = new ProcessGroup();
  let database: TestDatabase;
  let cuts: StatementCuts;

  beforeAll(async () => {
    database = await createTestDatabase();
    cuts = await StatementCuts.inFrontOf(database.url);
  });

  afterAll(async () => {
    await processes.close();
    await cuts?.close();
    await database?.drop();
  });

  it("exits 1 with one line saying the migrations did not finish and will run at the next start, then starts on the next try", async () => {
    const configPath = fakeOpenAIConfig("http://127.0.0.1:9");
    cuts.cutWhenSent(FIRST_KEYS_TABLE);
    const env = { DATABASE_URL: cuts.urlTo(database.url), NATS_URL: "", GATEWAY_DATA_DIR: "", FAKE_PROVIDER_KEY: PROVIDER_KEY, GATEWAY_START_WAIT_SECONDS: "0" };
    const failure = await processes.start("all", { configPath, env }).then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );
    expect(failure).toMatch(/^all exited \(1\) before listening:\n/);
    // The log's JSON lines aside, what the process printed is the one line on stderr.
    const printed = failure!.split("\n").slice(1).filter((line) => line !== "" && !line.startsWith("{"));
    expect(printed).toEqual([expect.stringMatching(/^the keys schema's migrations did not finish: the connection to Postgres at 127\.0\.0\.1:\d+\/gw_test_\w+ \(DATABASE_URL\) broke: .+; they run in one transaction \(all or none\), and the next start runs those not applied$/)]);

    expect(cuts.armed).toBe(false);
    const gateway = await processes.start("all", { configPath, env });
    expect(await gateway.stop()).toBe(0);
  }, 120_000);

  it("exits 1 with one line when the connection breaks after the migrations, as the services load what they keep", async () => {
    const configPath = fakeOpenAIConfig("http://127.0.0.1:9");
    // The router's first read of its runtime models, once every schema is migrated (by the test above).
    cuts.cutWhenSent('from "router"."runtime_models"');
    const env = { DATABASE_URL: cuts.urlTo(database.url), NATS_URL: "", GATEWAY_DATA_DIR: "", FAKE_PROVIDER_KEY: PROVIDER_KEY, GATEWAY_START_WAIT_SECONDS: "0" };
    const failure = await processes.start("all", { configPath, env }).then(
      () => undefined,
      (err: unknown) => (err as Error).message,
    );
    expect(cuts.armed).toBe(false);
    expect(failure).toMatch(/^all exited \(1\) before listening:\n/);
    const printed = failure!.split("\n").slice(1).filter((line) => line !== "" && !line.startsWith("{"));
    expect(printed).toEqual([expect.stringMatching(/^the start did not finish: the connection to the database broke: .+; the next start tries again$/)]);
  }, 120_000);
});
