import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// A client that walks away mid-stream is still charged, in the ledger, for
// what the stream carried until then; its key's budget must count the same.

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

async function ledgerSpend(keyHash: string): Promise<{ rows: number; spend: number }> {
  const res = await fetch(`${baseUrl}/spend/logs?api_key=${keyHash}&limit=1000`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
  const rows = (await res.json()) as { spend: number }[];
  return { rows: rows.length, spend: rows.reduce((sum, r) => sum + r.spend, 0) };
}

describe("streams abandoned by their clients", () => {
  it("count against the key's budget as the ledger charges them", async () => {
    // A long answer sent as fast as it goes: the gateway has chunks on hand
    // when it sees the client gone.
    const words = 30_000;
    Object.assign(provider.behavior, { reply: "word ".repeat(words).trim(), chunkDelayMs: 0 });
    try {
      // Room for one such request's reservation (words × $0.6e-6, about $0.018), not two.
      const maxBudget = 0.03;
      const { json: minted } = await admin<GeneratedKey>(baseUrl, "POST", "/key/generate", { max_budget: maxBudget });
      const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
      let admitted = 0;
      for (let i = 0; i < 10; i++) {
        const walkAway = new AbortController();
        const stream = await client.chat.completions
          .create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], max_tokens: words, stream: true }, { signal: walkAway.signal })
          .catch((err: { status?: number }) => {
            expect(err.status).toBe(400);
            return undefined;
          });
        if (!stream) continue;
        admitted += 1;
        let chunks = 0;
        try {
          for await (const _ of stream) if (++chunks === 2) walkAway.abort();
        } catch {
          // The client's own abort.
        }
        // Booked before the next one starts.
        await eventually("the request in the ledger", async () => ((await ledgerSpend(minted.token)).rows === admitted ? true : undefined));
      }
      const ledger = await ledgerSpend(minted.token);
      expect(ledger.spend).toBeGreaterThan(0);
      const { json } = await admin<{ info: { spend: number } }>(baseUrl, "GET", `/key/info?key=${minted.key}`);
      expect(json.info.spend).toBeCloseTo(ledger.spend, 12);
      expect(ledger.spend).toBeLessThanOrEqual(maxBudget);
    } finally {
      delete provider.behavior.reply;
    }
  });
});
