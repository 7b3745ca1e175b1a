import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, startThrowawayPostgres, type TestBus, type ThrowawayPostgres } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, startSplitGateway } from "./support/gateway.js";

// What a replica holds of a limit and gives back while Postgres is down is
// still taken in Postgres: the give-back must be tried again once Postgres
// is back, or the limit stays taken. Parallel slots have no window to end:
// dropped, a key's slots held when Postgres went away for five seconds
// refused the key (max_parallel_requests reached) until the gateway
// restarted.
//
// Known flake until the driver is fixed: postgres.js 3.4.9 can throw from a
// connection cut while it starts (an unhandled rejection of its array-types
// query, or a write to a socket already closed, connection.js:564 and :255),
// which vitest reports as an unhandled error of this file, and which stops
// a gateway process.

const PROVIDER_LATENCY_MS = 300;
const OUTAGE_MS = 5_000;

describe.each(["one process", "split"] as const)("parallel slots held when Postgres goes away (%s)", (mode) => {
  let provider: FakeProvider;
  let pg: ThrowawayPostgres;
  let bus: TestBus;
  let gateway: RunningGateway | undefined;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY, latencyMs: PROVIDER_LATENCY_MS } });
    pg = await startThrowawayPostgres();
    bus = await createTestBus();
  });

  afterAll(async () => {
    await gateway?.close();
    await bus?.close();
    await pg?.close();
    await provider?.close();
  });

  it("come back to the key once Postgres is back, without a restart", async () => {
    const configPath = fakeOpenAIConfig(provider.url);
    const plumbing = { databaseUrl: pg.url, nats: bus };
    gateway = mode === "split" ? await startSplitGateway(configPath, plumbing) : await startGateway(gatewayOptions("all", configPath, plumbing));
    const baseUrl = `http://127.0.0.1:${gateway.port}`;
    const { status, json: key } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { max_parallel_requests: 2 }, MASTER_KEY);
    expect(status).toBe(200);
    const client = new OpenAI({ apiKey: key.key, baseURL: `${baseUrl}/v1`, maxRetries: 0 });
    const both = () =>
      Promise.allSettled([1, 2].map((n) => client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: `call ${n}` }] })));
    const refusals = (settled: PromiseSettledResult<unknown>[]) => settled.filter((s) => s.status === "rejected").map((s) => String((s as PromiseRejectedResult).reason));

    // The replica takes both slots, and still holds them when Postgres goes.
    expect(refusals(await both())).toEqual([]);
    await pg.stop("fast");
    // Idle for over a second: the replica gives the slots back, and Postgres is not there to take them.
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await pg.start();

    // Within a few seconds of its return, both slots are the key's again.
    const deadline = Date.now() + 10_000;
    let last = refusals(await both());
    while (last.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      last = refusals(await both());
    }
    expect(last).toEqual([]);
  }, 90_000);
});
