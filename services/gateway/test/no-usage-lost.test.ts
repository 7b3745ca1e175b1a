import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import {
  createTestBus,
  createTestDatabase,
  eventually,
  startThrowawayNats,
  startThrowawayPostgres,
  type TestBus,
  type TestDatabase,
  type ThrowawayNats,
  type ThrowawayPostgres,
} from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, type GatewayPlumbing } from "./support/gateway.js";
import { driveCompletions } from "./support/load.js";
import { ProcessGroup } from "./support/processes.js";

// Every request that reached the router is one ledger row, and one count in
// the daily totals, whatever happened to accounting, Postgres or NATS while
// it was served.

const TOTAL = 240;
const CONCURRENCY = 6;
const LEDGER_TIMEOUT_MS = 60_000;
const RESTART_TEST_TIMEOUT_MS = 150_000;

let provider: FakeProvider;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY, latencyMs: 5 } });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await provider?.close();
});

/** What the ledger holds: rows, distinct request ids, requests counted in the daily totals. */
async function ledgerCounts(databaseUrl: string): Promise<{ rows: number; distinct: number; counted: number }> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ rows: number; distinct: number; counted: number }[]>`
      SELECT (SELECT count(*)::int FROM accounting.spend_logs) AS rows,
             (SELECT count(DISTINCT request_id)::int FROM accounting.spend_logs) AS distinct,
             (SELECT coalesce(sum(requests), 0)::int FROM accounting.daily_spend) AS counted`;
    return row!;
  } finally {
    await sql.end();
  }
}

async function expectLedgerToMatch(databaseUrl: string, served: string[]): Promise<void> {
  expect(served).toHaveLength(TOTAL);
  const counts = await eventually(
    `${served.length} ledger rows`,
    async () => {
      const now = await ledgerCounts(databaseUrl).catch(() => undefined);
      return now && now.rows >= served.length && now.counted >= served.length ? now : undefined;
    },
    LEDGER_TIMEOUT_MS,
  );
  expect(counts).toEqual({ rows: served.length, distinct: served.length, counted: served.length });
}

function client(port: number): OpenAI {
  return new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
}

describe("no usage lost, none doubled", () => {
  it("when the accounting service is killed with SIGKILL under load and restarted", async () => {
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const bus: TestBus = await createTestBus();
    cleanups.push(() => bus.close());
    const configPath = fakeOpenAIConfig(provider.url);
    const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
    const processes = new ProcessGroup();
    cleanups.push(() => processes.close());
    const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix };
    let accounting = await processes.start("accounting", { configPath, env });
    const started: RunningGateway[] = [];
    cleanups.push(async () => {
      for (const s of started.reverse()) await s.close();
    });
    const service = async (name: "keys" | "router") => {
      const s = await startGateway(gatewayOptions(name, configPath, plumbing));
      started.push(s);
      return `http://127.0.0.1:${s.port}`;
    };
    const peers = { keysUrl: await service("keys"), routerUrl: await service("router"), accountingUrl: accounting.url };
    const edge = await startGateway(gatewayOptions("edge", configPath, plumbing, peers));
    started.push(edge);

    const { served, failures } = await driveCompletions(client(edge.port), TOTAL, CONCURRENCY, [
      {
        after: TOTAL / 3,
        // Batches are in flight while usage streams in: a SIGKILL lands between a commit and its ack, or mid-write.
        action: async () => {
          expect(await accounting.stop("SIGKILL")).toBe("SIGKILL");
        },
      },
      {
        after: (TOTAL * 2) / 3,
        action: async () => {
          accounting = await processes.start("accounting", { configPath, env, port: accounting.port, dataDir: accounting.dataDir });
        },
      },
    ]);
    expect(failures).toEqual([]);
    await expectLedgerToMatch(database.url, served);
  }, RESTART_TEST_TIMEOUT_MS);

  it("when Postgres restarts under load", async () => {
    const pg: ThrowawayPostgres = await startThrowawayPostgres();
    cleanups.push(() => pg.close());
    const bus: TestBus = await createTestBus();
    cleanups.push(() => bus.close());
    const gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url), { databaseUrl: pg.url, nats: bus }));
    cleanups.push(() => gateway.close());

    const { served, failures } = await driveCompletions(client(gateway.port), TOTAL, CONCURRENCY, [
      { after: TOTAL / 3, action: () => pg.stop("immediate") },
      { after: (TOTAL * 2) / 3, action: () => pg.start() },
    ]);
    expect(failures).toEqual([]);
    await expectLedgerToMatch(pg.url, served);
  }, RESTART_TEST_TIMEOUT_MS);

  it("when NATS restarts under load", async () => {
    const nats: ThrowawayNats = await startThrowawayNats();
    cleanups.push(() => nats.close());
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: { url: nats.url, stream: "USAGE_RESTART", prefix: "restart" } };
    const gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url), plumbing));
    cleanups.push(() => gateway.close());

    const { served, failures } = await driveCompletions(client(gateway.port), TOTAL, CONCURRENCY, [
      { after: TOTAL / 3, action: () => nats.stop("SIGKILL") },
      { after: (TOTAL * 2) / 3, action: () => nats.start() },
    ]);
    expect(failures).toEqual([]);
    await expectLedgerToMatch(database.url, served);
  }, RESTART_TEST_TIMEOUT_MS);
});
