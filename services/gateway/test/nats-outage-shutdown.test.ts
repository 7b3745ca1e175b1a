import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestDatabase, eventually, startThrowawayNats, type TestDatabase, type ThrowawayNats } from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

// SIGTERM while NATS is down: nothing can be flushed to it, so each service
// stops within its shutdown timeout and exits 0 (a router's unsent usage
// stays in its outbox, so nothing is lost), and the usage reaches the
// ledger once NATS and the router are back.

const SHUTDOWN_TIMEOUT_SECONDS = 2;
/** What a process may take past its shutdown timeout to exit. */
const EXIT_SLACK_MS = 1_000;

describe("SIGTERM while NATS is down", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let nats: ThrowawayNats;
  const processes = new ProcessGroup();

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    nats = await startThrowawayNats();
  });

  afterAll(async () => {
    await processes.close();
    await provider?.close();
    await nats?.close();
    await database?.drop();
  });

  it("stops every service within its shutdown timeout with 0, and loses no usage", async () => {
    const configPath = fakeOpenAIConfig(provider.url);
    const env = {
      FAKE_PROVIDER_KEY: PROVIDER_KEY,
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_STREAM: "SHUTDOWN_OUTAGE",
      NATS_SUBJECT_PREFIX: "shutdown-outage",
      GATEWAY_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
    };
    const start = (service: "keys" | "router" | "accounting" | "edge", extra: Record<string, string> = {}, previous?: GatewayProcess) =>
      processes.start(service, { configPath, env: { ...env, ...extra }, ...(previous && { port: previous.port, dataDir: previous.dataDir }) });
    const [keys, router, accounting] = await Promise.all([start("keys"), start("router"), start("accounting")]);
    const edge = await start("edge", { KEYS_URL: keys.url, ROUTER_URL: router.url, ACCOUNTING_URL: accounting.url });
    const client = new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const served: string[] = [];
    const complete = async (content: string) => {
      const { response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content }] }).withResponse();
      served.push(response.headers.get("x-litellm-call-id")!);
    };
    await complete("before the outage");

    await nats.stop("SIGKILL");
    // The router's outbox keeps these until JetStream can take them.
    for (let i = 0; i < 3; i++) await complete(`during the outage ${i}`);

    const timed = async (p: GatewayProcess) => {
      const started = performance.now();
      const code = await p.stop("SIGTERM");
      return { code, withinTimeout: performance.now() - started < SHUTDOWN_TIMEOUT_SECONDS * 1_000 + EXIT_SLACK_MS };
    };
    const [keysExit, accountingExit, routerExit] = await Promise.all([timed(keys), timed(accounting), timed(router)]);
    const stopped = { code: 0, withinTimeout: true };
    expect({ keys: keysExit, accounting: accountingExit, router: routerExit }).toEqual({ keys: stopped, accounting: stopped, router: stopped });

    await nats.start();
    await Promise.all([start("router", {}, router), start("accounting", {}, accounting)]);
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const booked = await eventually(
        "every served request in the ledger",
        async () => {
          const rows = await sql<{ request_id: string }[]>`SELECT request_id FROM accounting.spend_logs`;
          return rows.length >= served.length ? rows.map((r) => r.request_id) : undefined;
        },
        30_000,
      );
      expect(booked.sort()).toEqual([...served].sort());
    } finally {
      await sql.end();
    }
  }, 90_000);
});
