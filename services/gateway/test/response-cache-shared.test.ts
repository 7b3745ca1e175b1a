import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions, type GatewayPlumbing } from "./support/gateway.js";

// The response cache shared between replicas (cache_params.type: redis, kept
// in NATS JetStream), with the official client: two gateway replicas on one
// Postgres and one NATS answer each other's kept answers without calling the
// provider, /cache/delete and /cache/flushall reach both, and a replica
// whose model list lacks the deployment that answered does not take it.

let provider: FakeProvider;
let database: TestDatabase;
let bus: TestBus;
const running: RunningGateway[] = [];
let replicas: [string, string];

function config(deploymentId: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${provider.url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: ${deploymentId} }
litellm_settings:
  num_retries: 0
  cache: true
  cache_params: { type: redis, host: redis.internal, ttl: 600 }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

async function replica(configPath: string): Promise<string> {
  const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
  const gateway = await startGateway(gatewayOptions("all", configPath, plumbing));
  running.push(gateway);
  return `http://127.0.0.1:${gateway.port}`;
}

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  bus = await createTestBus();
  const shared = config("fast-1");
  replicas = [await replica(shared), await replica(shared)];
});

afterAll(async () => {
  for (const gateway of running.reverse()) await gateway.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

const client = (baseUrl: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
const ask = (content: string): OpenAI.ChatCompletionCreateParamsNonStreaming => ({ model: "fast-model", messages: [{ role: "user", content }] });
const chat = (baseUrl: string, content: string) => client(baseUrl).chat.completions.create(ask(content)).withResponse();
const cacheKey = (response: Response) => response.headers.get("x-litellm-cache-key");

/** The answer on `baseUrl`, once the other replica's answer has reached the shared store (its write does not hold up that answer). */
const sharedHit = (baseUrl: string, content: string) =>
  eventually(`a shared hit for "${content}"`, async () => {
    const before = provider.requests.length;
    const answer = await chat(baseUrl, content);
    expect(provider.requests).toHaveLength(before + (cacheKey(answer.response) === null ? 1 : 0));
    return cacheKey(answer.response) === null ? undefined : answer;
  });

describe("a response cache shared between replicas", () => {
  it("answers on one replica what the other's provider call kept, at no cost, booked as a hit", async () => {
    const [a, b] = replicas;
    const first = await chat(a, "shared answer");
    expect(provider.requests).toHaveLength(1);
    const second = await sharedHit(b, "shared answer");
    expect(second.data).toEqual(first.data);
    expect(cacheKey(second.response)).toMatch(/^[0-9a-f]{64}$/);
    expect(second.response.headers.get("x-litellm-response-cost")).toBe("0");
    const booked = await eventually("the hit's ledger row", async () => {
      const { json } = await admin<Record<string, unknown>[]>(b, "GET", `/spend/logs?request_id=${second.response.headers.get("x-litellm-call-id")}`);
      return json[0];
    });
    expect(booked).toMatchObject({ cache_hit: "True", spend: 0, model_id: "fast-1", prompt_tokens: first.data.usage?.prompt_tokens, completion_tokens: first.data.usage?.completion_tokens });
    // The hit is now in b's own memory too: it answers again without the provider.
    await chat(b, "shared answer");
    expect(provider.requests).toHaveLength(1);
  });

  it("streams on one replica a stream the other kept, chunk for chunk", async () => {
    const [a, b] = replicas;
    const read = async (baseUrl: string) => {
      const { data: stream, response } = await client(baseUrl).chat.completions.create({ ...ask("shared stream"), stream: true }).withResponse();
      const chunks: string[] = [];
      for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta.content ?? "");
      return { text: chunks.join(""), key: cacheKey(response) };
    };
    const before = provider.requests.length;
    const first = await read(a);
    expect(first.key).toBeNull();
    // Shared once the stream was read to its end, before the client saw that end.
    const second = await read(b);
    expect(second.key).toMatch(/^[0-9a-f]{64}$/);
    expect(second.text).toBe(first.text);
    expect(first.text).toContain("shared stream");
    expect(provider.requests).toHaveLength(before + 1);
  });

  it("shares an answer whose cache.ttl runs past any date, and answers one whose ttl is a fraction of a millisecond", async () => {
    const [a, b] = replicas;
    // Its expiry, no whole number of milliseconds, once failed the answer with a 500 after the provider was called.
    const brief = await client(a).chat.completions.create({ ...ask("brief answer"), cache: { ttl: 0.0001 } } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(brief.choices[0]!.message.content).toBe("Echo: brief answer");
    // Past what an int64 holds, its write to the shared store failed.
    const first = await client(a).chat.completions.create({ ...ask("lasting answer"), cache: { ttl: 1e300 } } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    // b keeps nothing of its own (no-store), so its hit is the shared store's.
    const readOnly = { ...ask("lasting answer"), cache: { "no-store": true } } as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const second = await eventually("a shared hit for the lasting answer", async () => {
      const answer = await client(b).chat.completions.create(readOnly).withResponse();
      return cacheKey(answer.response) === null ? undefined : answer;
    });
    expect(second.data).toEqual(first);
  });

  it("says at /cache/ping that answers are shared", async () => {
    for (const baseUrl of replicas) {
      expect(await admin(baseUrl, "GET", "/cache/ping")).toMatchObject({ status: 200, json: { status: "healthy", cache_type: "redis", litellm_cache_params: { type: "redis", ttl: 600 } } });
    }
  });

  it("drops an answer deleted on one replica from the other's memory and from the shared store", async () => {
    const [a, b] = replicas;
    await chat(a, "delete me");
    const hit = await sharedHit(b, "delete me");
    await chat(a, "delete me");
    const before = provider.requests.length;
    expect(await admin(b, "POST", "/cache/delete", { keys: [cacheKey(hit.response)] })).toEqual({ status: 200, json: { status: "success" } });
    // Neither a's memory nor the store answers it now.
    await eventually("a's copy dropped", async () => {
      const again = await chat(a, "delete me");
      return cacheKey(again.response) === null ? again : undefined;
    });
    expect(provider.requests).toHaveLength(before + 1);
  });

  it("drops every shared answer on /cache/flushall", async () => {
    const [a, b] = replicas;
    for (const content of ["flush one", "flush two"]) {
      await chat(a, content);
      await sharedHit(b, content);
    }
    expect(await admin(a, "POST", "/cache/flushall")).toEqual({ status: 200, json: { status: "success" } });
    // Each asked on one replica only, so that neither answer is shared again before the other is asked.
    const missed = (baseUrl: string, content: string) =>
      eventually(`"${content}" dropped`, async () => {
        const again = await chat(baseUrl, content);
        return cacheKey(again.response) === null ? again : undefined;
      });
    const before = provider.requests.length;
    await missed(b, "flush one");
    await missed(a, "flush two");
    expect(provider.requests).toHaveLength(before + 2);
  });

  it("misses on a replica that has no deployment of the id that answered", async () => {
    const [a, b] = replicas;
    await chat(a, "which deployment");
    await sharedHit(b, "which deployment");
    const other = await replica(config("fast-2"));
    const before = provider.requests.length;
    const answer = await chat(other, "which deployment");
    expect(cacheKey(answer.response)).toBeNull();
    expect(provider.requests).toHaveLength(before + 1);
  });
});
