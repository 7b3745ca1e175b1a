import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceName } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { edgeBalancer, type EdgeBalancer } from "./support/edge-balancer.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

const WORKERS = 4;
// Completions between two steps of the scenario, so every step happens under traffic.
const STEP = 8;
// Bounds the traffic whatever happens to the scenario.
const MAX_REQUESTS = 2_000;

interface Served {
  requestId: string;
  completionTokens: number;
}

interface Attempt {
  /** Positions on one counter shared with the scenario's events, to order them. */
  startedAt: number;
  endedAt: number;
  error?: unknown;
}

interface SpendLogRow {
  request_id: string;
  status: string;
  completion_tokens: number;
  spend: number;
}

describe("two edges, two keys, two routers and one accounting as separate processes", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let balancer: EdgeBalancer;
  const processes = new ProcessGroup();

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY, latencyMs: 20, chunkDelayMs: 20 } });
    database = await createTestDatabase();
    bus = await createTestBus();
  });

  afterAll(async () => {
    await processes.close();
    await balancer?.close();
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("loses no request to replica restarts beyond those in flight on a crashed one, and the ledger matches what was served", async () => {
    const configPath = fakeOpenAIConfig(provider.url);
    const env = {
      FAKE_PROVIDER_KEY: PROVIDER_KEY,
      DATABASE_URL: database.url,
      NATS_URL: bus.url,
      NATS_STREAM: bus.stream,
      NATS_SUBJECT_PREFIX: bus.prefix,
    };
    const start = (service: ServiceName, extra: Record<string, string> = {}, previous?: GatewayProcess) =>
      processes.start(service, { configPath, env: { ...env, ...extra }, ...(previous && { port: previous.port, dataDir: previous.dataDir }) });
    const [keysA, keysB, routerA, routerB, accounting] = await Promise.all([
      start("keys"),
      start("keys"),
      start("router"),
      start("router"),
      start("accounting"),
    ]);
    const peers = {
      KEYS_URL: `${keysA.url},${keysB.url}`,
      ROUTER_URL: `${routerA.url},${routerB.url}`,
      ACCOUNTING_URL: accounting.url,
    };
    const edgePeers = { ...peers, GATEWAY_DRAIN_DELAY_SECONDS: "1" };
    const [edgeA, edgeB] = await Promise.all([start("edge", edgePeers), start("edge", edgePeers)]);
    balancer = edgeBalancer([edgeA.url, edgeB.url]);
    const client = new OpenAI({ baseURL: "http://edges/v1", apiKey: MASTER_KEY, maxRetries: 0, fetch: balancer.fetch });

    // One counter orders requests and scenario events alike.
    let clock = 0;
    const served: Served[] = [];
    const attempts: Attempt[] = [];
    let stopTraffic = false;
    let completed = 0;
    const waiters: { count: number; resolve: () => void }[] = [];
    const afterMore = (count: number) => new Promise<void>((resolve) => waiters.push({ count: completed + count, resolve }));

    async function oneRequest(n: number): Promise<void> {
      const attempt: Attempt = { startedAt: clock++, endedAt: 0 };
      attempts.push(attempt);
      const content = `request ${n} of the replica test`;
      try {
        if (n % 2 === 0) {
          const { data, response } = await client.chat.completions
            .create({ model: "fast-model", messages: [{ role: "user", content }] })
            .withResponse();
          expect(data.choices[0]?.message.content).toBe(`Echo: ${content}`);
          served.push({ requestId: response.headers.get("x-litellm-call-id")!, completionTokens: data.usage!.completion_tokens });
        } else {
          const { data: stream, response } = await client.chat.completions
            .create({ model: "fast-model", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content }] })
            .withResponse();
          let text = "";
          let completionTokens = -1;
          // The SDK throws when the stream carries an error or ends without [DONE].
          for await (const chunk of stream) {
            text += chunk.choices[0]?.delta.content ?? "";
            if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
          }
          expect(text).toBe(`Echo: ${content}`);
          served.push({ requestId: response.headers.get("x-litellm-call-id")!, completionTokens });
        }
      } catch (err) {
        attempt.error = err;
      } finally {
        attempt.endedAt = clock++;
        completed++;
        for (const w of waiters.filter((w) => completed >= w.count)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }

    let issued = 0;
    const traffic = Array.from({ length: WORKERS }, async () => {
      while (!stopTraffic && issued < MAX_REQUESTS) await oneRequest(issued++);
    });

    /** Graceful restart on the same port and data, with traffic running while the replica is down. */
    async function restart(replica: GatewayProcess, extra: Record<string, string> = {}): Promise<GatewayProcess> {
      expect(await replica.stop("SIGTERM")).toBe(0);
      await afterMore(STEP);
      const again = await start(replica.service, extra, replica);
      await afterMore(STEP);
      return again;
    }

    let crash = { killedAt: Infinity, exitSeenAt: -Infinity };
    try {
      await afterMore(STEP);
      await restart(keysA);
      await restart(routerA);
      await restart(accounting);
      // As in Kubernetes: out of the Service first, then SIGTERM; the drain
      // delay covers connections the balancer opened just before.
      balancer.remove(edgeA.url);
      const edgeAgain = await restart(edgeA, edgePeers);
      balancer.add(edgeAgain.url);
      // A crash: whatever routerB was running when killed may fail, nothing else.
      crash = { killedAt: clock++, exitSeenAt: 0 };
      await routerB.stop("SIGKILL");
      crash.exitSeenAt = clock++;
      await afterMore(STEP);
      await start("router", {}, routerB);
      await afterMore(STEP);
    } finally {
      stopTraffic = true;
      await Promise.all(traffic);
    }

    const failed = attempts.filter((a) => a.error !== undefined);
    const inFlightAtCrash = (a: Attempt) => a.startedAt < crash.exitSeenAt && a.endedAt > crash.killedAt;
    expect(failed.filter((a) => !inFlightAtCrash(a)).map((a) => String(a.error))).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(WORKERS);
    expect(served.length).toBe(attempts.length - failed.length);
    // Both edges took traffic.
    for (const count of balancer.served.values()) expect(count).toBeGreaterThan(0);

    // The ledger: one row per served request, successes exactly those served,
    // with the tokens the client was told.
    await eventually(
      "every served request in the ledger",
      async () => {
        const booked = new Set((await spendLogs(edgeB.url)).map((r) => r.request_id));
        return served.every((s) => booked.has(s.requestId)) || undefined;
      },
      45_000,
    );
    // Read again once nothing is being booked, so pages cannot shift under the reader.
    const rows = await spendLogs(edgeB.url);
    const ids = rows.map((r) => r.request_id);
    expect(new Set(ids).size).toBe(ids.length);
    const successes = rows.filter((r) => r.status === "success");
    expect(new Set(successes.map((r) => r.request_id))).toEqual(new Set(served.map((s) => s.requestId)));
    expect(rows.length).toBeLessThanOrEqual(attempts.length);
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    for (const s of served) {
      expect(byId.get(s.requestId)?.completion_tokens).toBe(s.completionTokens);
      expect(byId.get(s.requestId)?.spend).toBeGreaterThan(0);
    }
  }, 120_000);
});

/** Every ledger row, page by page. */
async function spendLogs(edgeUrl: string): Promise<SpendLogRow[]> {
  const rows: SpendLogRow[] = [];
  const limit = 500;
  for (let offset = 0; ; offset += limit) {
    const res = await fetch(`${edgeUrl}/spend/logs?limit=${limit}&offset=${offset}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as SpendLogRow[];
    rows.push(...page);
    if (page.length < limit) return rows;
  }
}
