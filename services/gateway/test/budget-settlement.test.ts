import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { MODES, startInMode, type ModeGateway } from "./support/modes.js";

// Budgets in every way of running, Postgres and NATS. A client that walks
// away mid-stream is still charged, in the ledger, for what the stream
// carried until then; its key's budget must count the same, in one process
// (the edge reads on to the router's Finished) and split (the edge's call is
// cut, and the router settles the reservation itself). And the most a
// request may cost follows the model list the router answers from: a
// deployment added to a group at run time, dearer than config.yaml's, is
// not admitted at the old, cheaper bound (the router tells the keys service
// its model list whenever it changes, MODEL_PRICES_SUBJECT).

let provider: FakeProvider;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
});

afterAll(async () => {
  await provider?.close();
});

describe.each(MODES.filter((m) => m.real))("budgets, $name", (mode) => {
  let gateway: ModeGateway;
  beforeAll(async () => {
    gateway = await startInMode(mode, fakeOpenAIConfig(provider.url));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  async function ledgerSpend(keyHash: string): Promise<{ rows: number; spend: number }> {
    const res = await fetch(`${gateway.baseUrl}/spend/logs?api_key=${keyHash}&limit=1000`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    const rows = (await res.json()) as { spend: number }[];
    return { rows: rows.length, spend: rows.reduce((sum, r) => sum + r.spend, 0) };
  }

  it("count a stream its client left as the ledger charges it", async () => {
    // A long answer sent as fast as it goes: the gateway has chunks on hand
    // when it sees the client gone.
    const words = 30_000;
    Object.assign(provider.behavior, { reply: "word ".repeat(words).trim(), chunkDelayMs: 0 });
    try {
      // Room for one such request's reservation (words × $0.6e-6, about $0.018), not two.
      const maxBudget = 0.03;
      const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: maxBudget });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
      const keySpend = async () => (await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${minted.key}`)).json.info.spend;
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
        // Booked, and settled with the key, before the next one starts.
        const ledger = await eventually("the request in the ledger", async () => {
          const l = await ledgerSpend(minted.token);
          return l.rows === admitted ? l : undefined;
        });
        await eventually("the key charged as the ledger", async () => (Math.abs((await keySpend()) - ledger.spend) < 1e-12 ? true : undefined));
      }
      const ledger = await ledgerSpend(minted.token);
      expect(ledger.spend).toBeGreaterThan(0);
      expect(await keySpend()).toBeCloseTo(ledger.spend, 12);
      expect(ledger.spend).toBeLessThanOrEqual(maxBudget);
    } finally {
      delete provider.behavior.reply;
    }
  });

  it("charge an answer the client stopped waiting for as the ledger does, not as the whole reservation", async () => {
    const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 1 });
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
    provider.behavior.latencyMs = 500;
    try {
      const walkAway = new AbortController();
      const asked = client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], max_tokens: 1000 }, { signal: walkAway.signal });
      setTimeout(() => walkAway.abort(), 100);
      await expect(asked).rejects.toThrow();
    } finally {
      provider.behavior.latencyMs = 0;
    }
    const ledger = await eventually("the request in the ledger", async () => {
      const l = await ledgerSpend(minted.token);
      return l.rows === 1 ? l : undefined;
    });
    // Past the edge's fallback, which would have charged the reservation whole.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${minted.key}`);
    expect(json.info.spend).toBeCloseTo(ledger.spend, 12);
  });

  it("reserve against a dearer deployment added to the group at run time (last: it answers from then on)", async () => {
    const dear = 0.0001;
    const added = await admin(gateway.baseUrl, "POST", "/model/new", {
      model_name: "fast-model",
      // Ordered, so it answers every request (the config's deployment has no order).
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${provider.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY", order: 1 },
      model_info: { id: "fast-dear", input_cost_per_token: dear, output_cost_per_token: dear },
    });
    expect(added.status).toBe(200);
    Object.assign(provider.behavior, { reply: "word ".repeat(100).trim() });
    try {
      // Room for two requests answered in full by the dear deployment (100 tokens out each, a few in).
      const maxBudget = 0.025;
      const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: maxBudget });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const answer = await client.chat.completions
          .create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], max_tokens: 100 })
          .withResponse()
          .catch((err: unknown) => {
            // Refused by the budget once it is spent, and for nothing else.
            expect(err).toMatchObject({ status: 400, type: "budget_exceeded" });
            return undefined;
          });
        if (answer) ids.push(answer.response.headers.get("x-litellm-call-id")!);
      }
      let spent = 0;
      for (const id of ids) spent += (await gateway.spendLog(id))["spend"] as number;
      expect(spent).toBeLessThanOrEqual(maxBudget);
    } finally {
      delete provider.behavior.reply;
    }
  });
});
