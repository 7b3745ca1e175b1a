import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestDatabase, eventually, startThrowawayNats, type TestDatabase, type ThrowawayNats } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, PROVIDER_KEY } from "./support/config.js";
import { serviceStarter, type GatewayPlumbing } from "./support/gateway.js";

// Split, with two keys replicas behind one edge that takes turns between
// them: a Release that reaches the replica not holding the reservation goes
// on to the holder over NATS, as does the router's own settlement. Sent
// while NATS is down, they still arrive once it is back, so the key's
// parallel slots come back (lost, they stayed taken for 15 minutes).

const HOLD_MS = 2_000;
// Odd: the edge takes turns per call, so a request's Release goes to the
// replica after the one that admitted it (n calls later) when all finish in
// the order they began.
const LIMIT = 5;

let provider: FakeProvider;
let database: TestDatabase;
let nats: ThrowawayNats;
const running: RunningGateway[] = [];
let edge: string;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  nats = await startThrowawayNats();
  const config = fakeOpenAIConfig(provider.url);
  const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: { url: nats.url, stream: "RELEASE_OUTAGE", prefix: "release-outage" } };
  const start = serviceStarter(config, plumbing, running);
  const [keysA, keysB, router, accounting] = [await start("keys"), await start("keys"), await start("router"), await start("accounting")];
  edge = await start("edge", { keysUrl: `${keysA},${keysB}`, routerUrl: router, accountingUrl: accounting });
});

afterAll(async () => {
  for (const s of running.reverse()) await s.close();
  await provider?.close();
  await nats?.close();
  await database?.drop();
});

const ask = (key: string) =>
  new OpenAI({ baseURL: `${edge}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "slot" }], max_tokens: 10 });

describe("releases sent while NATS is down", () => {
  it("reach the keys replica holding the reservation once NATS is back, freeing the key's parallel slots", { timeout: 60_000 }, async () => {
    const { status, json } = await admin<GeneratedKey>(edge, "POST", "/key/generate", { max_parallel_requests: LIMIT });
    expect(status).toBe(200);
    provider.behavior.latencyMs = HOLD_MS;
    const first = Promise.allSettled(Array.from({ length: LIMIT }, () => ask(json.key)));
    await eventually("every request at the provider", async () => (provider.inFlight === LIMIT ? true : undefined));
    await nats.stop("SIGKILL");
    // They finish, and are released, while NATS is down.
    expect((await first).filter((r) => r.status === "fulfilled")).toHaveLength(LIMIT);
    await nats.start();
    // Every slot is free again: all of a new burst is admitted.
    provider.behavior.latencyMs = 0;
    await eventually(
      "the key's slots back",
      async () => {
        const results = await Promise.allSettled(Array.from({ length: LIMIT }, () => ask(json.key)));
        // Refused by the parallel limit while slots are still taken, and for nothing else.
        for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ status: 429, type: "rate_limit_error" });
        return results.every((r) => r.status === "fulfilled") ? true : undefined;
      },
      30_000,
    );
  });
});
