import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// A key's limits changed while its requests are in flight: the new limit
// holds, and what the requests held under the old one is not lost.

let provider: FakeProvider;
let gateway: RunningGateway;
let database: TestDatabase;
let bus: TestBus;
let baseUrl: string;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  bus = await createTestBus();
  gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url), { databaseUrl: database.url, nats: bus }));
  baseUrl = `http://127.0.0.1:${gateway.port}`;
});

afterAll(async () => {
  await gateway?.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

/** How long the provider takes while requests must be in flight together. */
const HOLD_MS = 1500;

/** Sends `n` requests at once; resolves to each one's status. */
function burst(key: string, n: number): Promise<number[]> {
  const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 });
  return Promise.all(
    Array.from({ length: n }, () =>
      client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], max_tokens: 5 }).then(
        () => 200,
        (err: { status?: number }) => err.status ?? 0,
      ),
    ),
  );
}

describe("limits changed under load", () => {
  it("holds a max_parallel_requests lowered while requests are in flight, and serves up to it once they finish", async () => {
    const { json: minted } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { max_parallel_requests: 4 });
    provider.behavior.latencyMs = HOLD_MS;
    try {
      const first = burst(minted.key, 4);
      await eventually("four requests at the provider", async () => (provider.inFlight === 4 ? true : undefined));
      expect((await admin(baseUrl, "POST", "/key/update", { key: minted.key, max_parallel_requests: 2 })).status).toBe(200);
      // Four in flight: no room under the new limit.
      expect(await burst(minted.key, 1)).toEqual([429]);
      expect(await first).toEqual([200, 200, 200, 200]);
      // What the four held goes back as they finish; a replica may refuse for
      // up to a second while the sum has room (docs/design-notes.md), never longer.
      provider.behavior.latencyMs = 0;
      await eventually("the key served again", async () => ((await burst(minted.key, 1))[0] === 200 ? true : undefined), 3000);
      provider.behavior.latencyMs = HOLD_MS;
      const after = await burst(minted.key, 3);
      expect(after.filter((s) => s === 200)).toHaveLength(2);
      expect(after.filter((s) => s === 429)).toHaveLength(1);
    } finally {
      provider.behavior.latencyMs = 0;
    }
  });
});
