import { createClient } from "@connectrpc/connect";
import { connectTransport } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, INTERNAL_CREDENTIAL, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";
import { openChatStream, streamedContent } from "./support/sse.js";

// A stream slow enough to be mid-way when SIGTERM arrives: one word per chunk.
const WORDS = Array.from({ length: 12 }, (_, i) => `w${i}`).join(" ");

/** The status of the first health answer that is not 200 (polled until there is one). */
async function firstNotReady(url: string): Promise<number> {
  return eventually(`${url} to stop being ready`, async () => {
    const res = await fetch(`${url}/health/readiness`);
    return res.status === 200 ? undefined : res.status;
  });
}

describe("graceful shutdown of real processes on SIGTERM", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let configPath: string;
  let env: Record<string, string>;
  const processes = new ProcessGroup();

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY, chunkDelayMs: 250 } });
    database = await createTestDatabase();
    bus = await createTestBus();
    configPath = fakeOpenAIConfig(provider.url);
    env = {
      FAKE_PROVIDER_KEY: PROVIDER_KEY,
      DATABASE_URL: database.url,
      NATS_URL: bus.url,
      NATS_STREAM: bus.stream,
      NATS_SUBJECT_PREFIX: bus.prefix,
    };
  });

  afterEach(() => processes.close());

  afterAll(async () => {
    await processes.close();
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("turns readiness false, finishes the stream with [DONE], flushes its usage event, and exits 0", async () => {
    const draining = { ...env, GATEWAY_DRAIN_DELAY_SECONDS: "2" };
    const [keys, router, accounting] = await Promise.all([
      processes.start("keys", { configPath, env }),
      processes.start("router", { configPath, env: draining }),
      processes.start("accounting", { configPath, env }),
    ]);
    const edge = await processes.start("edge", {
      configPath,
      env: { ...draining, KEYS_URL: keys.url, ROUTER_URL: router.url, ACCOUNTING_URL: accounting.url },
    });
    const stream = await openChatStream(edge.url, WORDS);
    await stream.firstEvent;

    const edgeExit = edge.stop("SIGTERM");
    const routerExit = router.stop("SIGTERM");
    // The router's port answers health over HTTP/1.1 as well as its RPCs over h2c.
    expect(await firstNotReady(edge.url)).toBe(503);
    expect(await firstNotReady(router.url)).toBe(503);

    const { text, broken } = await stream.finished;
    expect(broken).toBe(false);
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(streamedContent(text)).toBe(`Echo: ${WORDS}`);
    expect(await edgeExit).toBe(0);
    expect(await routerExit).toBe(0);
    await expect(fetch(`${edge.url}/health/liveliness`)).rejects.toThrow();

    // The router published the stream's usage before it exited.
    const ledger = createClient(AccountingService, connectTransport(accounting.url, INTERNAL_CREDENTIAL));
    const asMaster = { headers: { authorization: `Bearer ${MASTER_KEY}` } };
    const row = await eventually("the stream's ledger row", async () => (await ledger.listSpendLogs({ requestId: stream.requestId }, asMaster)).logs[0]);
    expect(row.status).toBe(UsageStatus.SUCCESS);
    expect(row.completionTokens).toBe(13);
  });

  it("cuts a stream that outlasts the shutdown timeout, reporting it broken, and still exits 0", async () => {
    const gateway = await processes.start("all", { configPath, env: { ...env, GATEWAY_SHUTDOWN_TIMEOUT_SECONDS: "0.5" } });
    const long = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    const stream = await openChatStream(gateway.url, long);
    await stream.firstEvent;
    expect(await gateway.stop("SIGTERM")).toBe(0);
    const { text } = await stream.finished;
    expect(text).not.toContain("[DONE]");
    expect(streamedContent(text).length).toBeLessThan(`Echo: ${long}`.length);
  });
});
