import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI, { APIError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, type GatewayPlumbing } from "./support/gateway.js";
import { ProcessGroup } from "./support/processes.js";

// A service that dies under a call is the gateway's failure, not the
// client's: the client gets a 502 or 503, never a 499 ("request cancelled")
// it did not ask for.

const IN_FLIGHT = 6;

describe("a router killed with calls in flight", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  const processes = new ProcessGroup();
  const started: RunningGateway[] = [];

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    // Slow enough that every call is waiting on the provider when the router dies.
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY, latencyMs: 3_000 } });
    database = await createTestDatabase();
    bus = await createTestBus();
  });

  afterAll(async () => {
    for (const s of started.reverse()) await s.close();
    await processes.close();
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("answers each of them with a 503, not a 499", async () => {
    const configPath = fakeOpenAIConfig(provider.url);
    const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
    const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix };
    const router = await processes.start("router", { configPath, env });
    const service = async (name: "keys" | "accounting") => {
      const s = await startGateway(gatewayOptions(name, configPath, plumbing));
      started.push(s);
      return `http://127.0.0.1:${s.port}`;
    };
    const peers = { keysUrl: await service("keys"), accountingUrl: await service("accounting"), routerUrl: router.url };
    const edge = await startGateway(gatewayOptions("edge", configPath, plumbing, peers));
    started.push(edge);
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${edge.port}/v1`, apiKey: MASTER_KEY, maxRetries: 0, timeout: 20_000 });

    const calls = Array.from({ length: IN_FLIGHT }, (_, i) =>
      client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: `call ${i}` }] }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    );
    await eventuallyCalled(provider, IN_FLIGHT);
    expect(await router.stop("SIGKILL")).toBe("SIGKILL");

    const errors = await Promise.all(calls);
    for (const err of errors) {
      expect(err).toBeInstanceOf(APIError);
      const { status, error } = err as APIError;
      expect({ status, type: (error as { type?: string } | undefined)?.type }).toEqual({ status: 503, type: "service_unavailable" });
    }
    // With the router gone, a new call is refused at connect: a 503 that names no internal address.
    const refused = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "after" }] }).catch((err: unknown) => err as APIError);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(503);
    expect((refused as APIError).message).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
  });
});

async function eventuallyCalled(provider: FakeProvider, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (provider.requests.length < count) {
    if (Date.now() > deadline) throw new Error(`the provider saw ${provider.requests.length} of ${count} calls`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
