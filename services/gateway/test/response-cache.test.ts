import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, startFakeBehindGateway, type FakeBehindGateway, type ModeGateway } from "./support/modes.js";

// The response cache (litellm_settings.cache, LiteLLM's shapes), with the
// official client: an identical request is answered from the cache without
// calling the provider, at no cost, booked as a cache hit; the request's
// `cache` controls and /cache/ping and /cache/delete work as LiteLLM's;
// identical requests made together wait for one provider call.

function cacheConfig(cacheParams: string) {
  return (fakeUrl: string) =>
    writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: embedder
    litellm_params: { model: openai/text-embedding-3-small, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
  cache: true
  cache_params: ${cacheParams}
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** A chat body with the gateway-only `cache` field, which the SDK's types do not name. */
type CachedChat = OpenAI.ChatCompletionCreateParamsNonStreaming & { cache?: Record<string, unknown> };
const ask = (content: string, cache?: Record<string, unknown>): CachedChat => ({
  model: "fast-model",
  messages: [{ role: "user", content }],
  ...(cache && { cache }),
});

describe("response cache, one process", () => {
  const mode = MODES[0]!;
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, cacheConfig("{ type: local, ttl: 600 }"), (setup) => ({ provider, gateway, openai: client } = setup));

  const chat = (body: CachedChat, apiKey = MASTER_KEY) => client.chat.completions.create(body, { headers: { authorization: `Bearer ${apiKey}` } }).withResponse();

  it("answers an identical request from the cache: no provider call, the same answer, no cost, booked as a hit", async () => {
    const first = await chat(ask("cache me", { ttl: 600 }));
    expect(provider.requests).toHaveLength(1);
    // The gateway's own fields never reach the provider.
    expect(provider.requests[0]!.body).not.toHaveProperty("cache");
    expect(first.response.headers.get("x-litellm-cache-key")).toBeNull();
    const second = await chat(ask("cache me"));
    expect(provider.requests).toHaveLength(1);
    expect(second.data).toEqual(first.data);
    const key = second.response.headers.get("x-litellm-cache-key");
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(second.response.headers.get("x-litellm-response-cost")).toBe("0");
    expect(second.response.headers.get("x-litellm-model-group")).toBe("fast-model");

    const miss = await gateway.spendLog(first.response.headers.get("x-litellm-call-id")!);
    const hit = await gateway.spendLog(second.response.headers.get("x-litellm-call-id")!);
    expect(miss).toMatchObject({ cache_hit: "False", cache_key: key, model: "gpt-4o-mini" });
    expect(miss["spend"]).toBeGreaterThan(0);
    expect(hit).toMatchObject({
      cache_hit: "True",
      cache_key: key,
      spend: 0,
      model_group: "fast-model",
      model: "gpt-4o-mini",
      prompt_tokens: miss["prompt_tokens"],
      completion_tokens: miss["completion_tokens"],
      status: "success",
    });
  });

  it("streams a cached stream again, chunk for chunk, without the provider", async () => {
    const read = async () => {
      const { data: stream, response } = await client.chat.completions.create({ ...ask("stream me"), stream: true }).withResponse();
      const chunks: string[] = [];
      for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta.content ?? "");
      return { text: chunks.join(""), key: response.headers.get("x-litellm-cache-key") };
    };
    const first = await read();
    const second = await read();
    expect(first.text).toContain("stream me");
    expect(second).toEqual({ text: first.text, key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(provider.requests).toHaveLength(1);
    // A stream and a whole answer are kept apart.
    await chat(ask("stream me"));
    expect(provider.requests).toHaveLength(2);
  });

  it("keys by what changes the answer, and follows no-cache, no-store, s-maxage and namespace", async () => {
    await chat(ask("controls"));
    await chat({ ...ask("controls"), temperature: 0.9 });
    expect(provider.requests).toHaveLength(2);
    // metadata does not change the answer; the key order of the body does not either.
    const raw = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ metadata: { run: "nightly" }, messages: [{ content: "controls", role: "user" }], model: "fast-model" }),
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get("x-litellm-cache-key")).not.toBeNull();
    expect(provider.requests).toHaveLength(2);

    // no-cache: a fresh answer, kept in place of the old one; no-store: a fresh answer, not kept.
    await chat(ask("controls", { "no-cache": true }));
    expect(provider.requests).toHaveLength(3);
    await chat(ask("fresh only", { "no-store": true }));
    await chat(ask("fresh only"));
    expect(provider.requests).toHaveLength(5);
    const kept = await chat(ask("fresh only", { "no-store": true }));
    expect(kept.response.headers.get("x-litellm-cache-key")).not.toBeNull();
    expect(provider.requests).toHaveLength(5);

    // s-maxage: an answer kept longer ago than that is not taken.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stale = await chat(ask("controls", { "s-maxage": 0.01 }));
    expect(stale.response.headers.get("x-litellm-cache-key")).toBeNull();
    expect(provider.requests).toHaveLength(6);

    const elsewhere = await chat(ask("controls", { namespace: "team-b" }));
    expect(elsewhere.response.headers.get("x-litellm-cache-key")).toBeNull();
    expect(provider.requests).toHaveLength(7);

    await expect(chat(ask("controls", { ttl: "forever" }))).rejects.toMatchObject({ status: 400, param: "cache" });
    expect(provider.requests).toHaveLength(7);
  });

  it("caches embeddings", async () => {
    const embed = () => client.embeddings.create({ model: "embedder", input: ["a cached vector"] }).withResponse();
    const first = await embed();
    const second = await embed();
    expect(second.data.data[0]!.embedding).toEqual(first.data.data[0]!.embedding);
    expect(second.response.headers.get("x-litellm-cache-key")).toMatch(/^[0-9a-f]{64}$/);
    expect(provider.requests).toHaveLength(1);
    expect(await gateway.spendLog(second.response.headers.get("x-litellm-call-id")!)).toMatchObject({ call_type: "aembedding", cache_hit: "True", spend: 0 });
    const scraped = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
    expect(scraped).toMatch(/gateway_cache_hits_total\{model_group="embedder",call_type="aembedding"\} 1\n/);
  });

  it("charges a key only for the answers a provider gave, also for hits in flight together", async () => {
    const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 10 });
    const first = await chat(ask("budget", { ttl: 600 }), minted.key);
    const cost = Number(first.response.headers.get("x-litellm-response-cost"));
    expect(cost).toBeGreaterThan(0);
    const hits = await Promise.all(Array.from({ length: 8 }, () => chat(ask("budget"), minted.key)));
    expect(hits.map((h) => h.response.headers.get("x-litellm-response-cost"))).toEqual(Array(8).fill("0"));
    expect(provider.requests).toHaveLength(1);
    await eventually("the key's spend", async () => {
      const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${minted.key}`);
      expect(json.info.spend).toBeCloseTo(cost, 12);
      return json;
    });
  });

  it("calls the provider once for identical requests made together, but not for streams, and again when that call fails", async () => {
    provider.behavior.latencyMs = 200;
    const together = await Promise.all(Array.from({ length: 6 }, () => chat(ask("together"))));
    expect(provider.requests).toHaveLength(1);
    expect(together.filter((r) => r.response.headers.get("x-litellm-cache-key") !== null)).toHaveLength(5);
    expect(new Set(together.map((r) => r.data.choices[0]?.message.content)).size).toBe(1);
    // A stream's first bytes do not wait for another's last.
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for await (const part of await client.chat.completions.create({ ...ask("streams together"), stream: true })) expect(part.object).toBe("chat.completion.chunk");
      }),
    );
    expect(provider.requests).toHaveLength(4);
    // The first call fails: one of those waiting calls in its place, and the rest wait for that one.
    provider.behavior.failNext = 1;
    provider.behavior.failStatus = 500;
    const settled = await Promise.allSettled(Array.from({ length: 4 }, () => chat(ask("first fails"))));
    expect(settled.map((s) => s.status).sort()).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected"]);
    expect(provider.requests).toHaveLength(6);
  });

  it("answers /cache/ping, drops answers named to /cache/delete or all of them on /cache/flushall, for the master key only", async () => {
    const ping = await admin(gateway.baseUrl, "GET", "/cache/ping");
    expect(ping).toMatchObject({
      status: 200,
      json: { status: "healthy", cache_type: "local", litellm_cache_params: { mode: "default_on", ttl: 600, supported_call_types: expect.arrayContaining(["acompletion", "aembedding"]) } },
    });
    const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", {});
    const asKey = await fetch(`${gateway.baseUrl}/cache/ping`, { headers: { authorization: `Bearer ${minted.key}` } });
    expect(asKey.status).toBe(401);

    await chat(ask("forget me"));
    const key = (await chat(ask("forget me"))).response.headers.get("x-litellm-cache-key");
    expect(await admin(gateway.baseUrl, "POST", "/cache/delete", { keys: [key] })).toEqual({ status: 200, json: { status: "success" } });
    const after = await chat(ask("forget me"));
    expect(after.response.headers.get("x-litellm-cache-key")).toBeNull();
    expect(provider.requests).toHaveLength(2);
    expect((await admin(gateway.baseUrl, "POST", "/cache/delete", { keys: "all" })).status).toBe(400);

    // /cache/flushall drops every answer kept.
    await chat(ask("flush one"));
    await chat(ask("flush two"));
    const kept = provider.requests.length;
    expect(await admin(gateway.baseUrl, "POST", "/cache/flushall")).toEqual({ status: 200, json: { status: "success" } });
    for (const content of ["flush one", "flush two"]) expect((await chat(ask(content))).response.headers.get("x-litellm-cache-key")).toBeNull();
    expect(provider.requests).toHaveLength(kept + 2);
  });
});

describe("response cache, split services", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[1]!, cacheConfig("{ mode: default_off }"));
  });
  afterAll(() => setup?.close());

  it("is used only by requests that opt in, and names its key across the services", async () => {
    const { openai, provider, gateway } = setup;
    const chat = (body: CachedChat) => openai.chat.completions.create(body).withResponse();
    await chat(ask("opt in"));
    await chat(ask("opt in"));
    expect(provider.requests).toHaveLength(2);
    const first = await chat(ask("opt in", { "use-cache": true }));
    const second = await chat(ask("opt in", { "use-cache": true }));
    expect(provider.requests).toHaveLength(3);
    expect(first.response.headers.get("x-litellm-cache-key")).toBeNull();
    expect(second.response.headers.get("x-litellm-cache-key")).toMatch(/^[0-9a-f]{64}$/);
    expect(second.data).toEqual(first.data);
    expect(await gateway.spendLog(second.response.headers.get("x-litellm-call-id")!)).toMatchObject({ cache_hit: "True", spend: 0 });
    expect((await admin(gateway.baseUrl, "GET", "/cache/ping")).json).toMatchObject({ litellm_cache_params: { mode: "default_off" } });
  });
});

describe("response cache off", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[2]!, (fakeUrl) =>
      writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
`),
    );
  });
  afterAll(() => setup?.close());

  it("calls the provider every time, still without the gateway's own fields, and /cache/ping says it is off", async () => {
    const { openai, provider, gateway } = setup;
    for (let i = 0; i < 2; i++) {
      const { response } = await openai.chat.completions.create(ask("not cached", { ttl: 60 })).withResponse();
      expect(response.headers.get("x-litellm-cache-key")).toBeNull();
    }
    expect(provider.requests).toHaveLength(2);
    expect(provider.requests[1]!.body).not.toHaveProperty("cache");
    const ping = await admin<{ error: { message: string } }>(gateway.baseUrl, "GET", "/cache/ping");
    expect(ping.status).toBe(503);
    expect(ping.json.error.message).toMatch(/response cache is off/);
  });
});
