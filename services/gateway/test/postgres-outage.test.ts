import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, startThrowawayPostgres, type TestBus, type ThrowawayPostgres } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, startSplitGateway } from "./support/gateway.js";

// Postgres down for a while and back: calls that need it fail at once with
// a 503 (the database is a dependency that is down, not an internal error),
// and within a moment of its return the gateway serves them again, without
// a restart.

const OUTAGE_MS = 10_000;
/** A call asked while Postgres is down answers within this. */
const FAIL_FAST_MS = 3_000;
/** After Postgres answers again, the gateway's calls that need it succeed within this. */
const RECOVERY_MS = 3_000;

interface Answer {
  status: number;
  type: string | undefined;
  ms: number;
}

describe.each(["one process", "split"] as const)("Postgres down for ten seconds (%s)", (mode) => {
  let provider: FakeProvider;
  let pg: ThrowawayPostgres;
  let bus: TestBus;
  let gateway: RunningGateway | undefined;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    pg = await startThrowawayPostgres();
    bus = await createTestBus();
  });

  afterAll(async () => {
    await gateway?.close();
    await bus?.close();
    await pg?.close();
    await provider?.close();
  });

  it("answers calls that need it with a quick 503 while it is down, and serves them again within seconds of its return", async () => {
    const configPath = fakeOpenAIConfig(provider.url);
    const plumbing = { databaseUrl: pg.url, nats: bus };
    gateway = mode === "split" ? await startSplitGateway(configPath, plumbing) : await startGateway(gatewayOptions("all", configPath, plumbing));
    const spendLogs = async (): Promise<Answer> => {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${gateway!.port}/spend/logs`, { headers: { authorization: `Bearer ${MASTER_KEY}` }, signal: AbortSignal.timeout(60_000) });
      const body = (await res.json()) as { error?: { type?: string } };
      return { status: res.status, type: body.error?.type, ms: performance.now() - started };
    };
    expect((await spendLogs()).status).toBe(200);

    await pg.stop("immediate");
    // Calls keep coming while it is down, as they would under traffic.
    const whileDown: Answer[] = [];
    const outageEnds = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnds) {
      whileDown.push(await spendLogs());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await pg.start();
    const back = performance.now();
    let answer = await spendLogs();
    while (answer.status !== 200 && performance.now() - back < 30_000) answer = await spendLogs();

    expect(new Set(whileDown.map(({ status, type }) => `${status} ${type}`))).toEqual(new Set(["503 service_unavailable"]));
    expect(Math.max(...whileDown.map((a) => a.ms))).toBeLessThan(FAIL_FAST_MS);
    expect(answer.status).toBe(200);
    expect(performance.now() - back).toBeLessThan(RECOVERY_MS);
  }, 90_000);
});
