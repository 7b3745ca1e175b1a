import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

interface SpendLogRow {
  request_id: string;
  api_key: string;
  model: string;
  model_group: string;
  spend: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  startTime: string;
  endTime: string;
  status: string;
}

describe.each(MODES)("chat completions, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let baseUrl: string;
  let client: OpenAI;

  fakeBehindGatewayPerTest(mode, fakeOpenAIConfig, (setup) => {
    ({ provider, gateway, openai: client } = setup);
    baseUrl = gateway.baseUrl;
  });

  const spendLog = async (requestId: string) => (await gateway.spendLog(requestId)) as unknown as SpendLogRow;

  it("answers a completion with the provider's reply and records it in the ledger", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "fast-model", messages: [{ role: "user", content: "Say hello from my homelab." }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Echo: Say hello from my homelab.");
    expect(data.usage?.completion_tokens).toBe(6);
    expect(response.headers.get("x-litellm-model-id")).toBe("fake-deployment-1");
    const requestId = response.headers.get("x-litellm-call-id")!;
    const row = await spendLog(requestId);
    expect(row).toMatchObject({
      request_id: requestId,
      model: "gpt-4o-mini",
      model_group: "fast-model",
      prompt_tokens: data.usage?.prompt_tokens,
      completion_tokens: 6,
      total_tokens: data.usage?.total_tokens,
      status: "success",
    });
    // gpt-4o-mini's list price: $0.15 and $0.60 per million tokens.
    expect(row.spend).toBeCloseTo((data.usage!.prompt_tokens * 0.15 + 6 * 0.6) / 1e6, 12);
    expect(row.api_key).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(row.endTime)).toBeGreaterThanOrEqual(Date.parse(row.startTime));
  });

  it("tells how long a request took and which part of it was the gateway's own, streamed or not", async () => {
    // The provider's time is at least its delay (less a timer's millisecond of slack), so the gateway's part is what is left of the whole.
    provider.behavior.latencyMs = 300;
    const durations = (headers: Headers) => ["x-litellm-response-duration-ms", "x-litellm-overhead-duration-ms"].map((name) => Number(headers.get(name) ?? NaN));
    const plain = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "timed" }] }).withResponse();
    const streamed = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "timed" }], stream: true }).withResponse();
    for await (const _ of streamed.data);
    for (const [total, overhead] of [durations(plain.response.headers), durations(streamed.response.headers)]) {
      expect(total).toBeGreaterThanOrEqual(295);
      expect(overhead).toBeGreaterThanOrEqual(0);
      expect(total! - overhead!).toBeGreaterThanOrEqual(295);
    }
  });

  it("sends the provider key upstream and never the client's key", async () => {
    await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
    const upstream = provider.requests.find((r) => r.path === "/v1/chat/completions");
    expect(upstream?.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(JSON.stringify(upstream)).not.toContain(MASTER_KEY);
    expect((upstream?.body as { model: string }).model).toBe("gpt-4o-mini");
  });

  it("streams chunks ending in [DONE], counts tokens, and shows no usage chunk unasked", async () => {
    const stream = await client.chat.completions
      .create({ model: "fast-model", stream: true, messages: [{ role: "user", content: "one two three four" }] })
      .withResponse();
    let text = "";
    let sawUsage = false;
    for await (const chunk of stream.data) {
      text += chunk.choices[0]?.delta.content ?? "";
      // Not even the provider's "usage": null: OpenAI sends the key only to a client that asks.
      if ("usage" in chunk) sawUsage = true;
    }
    expect(text).toBe("Echo: one two three four");
    expect(sawUsage).toBe(false);
    // The provider was asked for usage all the same, and the ledger has it.
    const upstream = provider.requests.at(-1)?.body as { stream_options?: { include_usage?: boolean } };
    expect(upstream.stream_options?.include_usage).toBe(true);
    const row = await spendLog(stream.response.headers.get("x-litellm-call-id")!);
    expect(row.completion_tokens).toBe(5);
    expect(row.prompt_tokens).toBeGreaterThan(0);
  });

  it("passes the usage chunk through when the client asks for it", async () => {
    const stream = await client.chat.completions.create({
      model: "fast-model",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "a b" }],
    });
    const usages = [];
    for await (const chunk of stream) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toEqual([expect.objectContaining({ completion_tokens: 3 })]);
  });

  it("sends its own count as the usage chunk when the client asks and the provider reports none", async () => {
    provider.behavior.omitStreamUsage = true;
    const { data: stream, response } = await client.chat.completions
      .create({ model: "fast-model", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "a b" }] })
      .withResponse();
    const ids = new Set<string>();
    const usages = [];
    for await (const chunk of stream) {
      ids.add(chunk.id);
      if (chunk.usage) usages.push({ usage: chunk.usage, choices: chunk.choices });
    }
    expect(usages).toHaveLength(1);
    expect(usages[0]!.choices).toEqual([]);
    // The chunk belongs to the stream, and says what the ledger says.
    expect(ids.size).toBe(1);
    const row = await spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ usage_estimated: true });
    expect(usages[0]!.usage).toEqual({
      prompt_tokens: row.prompt_tokens,
      completion_tokens: row.completion_tokens,
      total_tokens: Number(row.prompt_tokens) + Number(row.completion_tokens),
    });
  });

  it("reports a stream broken mid-way as an error, not a clean end, and records a failure", async () => {
    provider.behavior.breakStreamAfterChunks = 2;
    const res = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "fast-model", stream: true, messages: [{ role: "user", content: "one two three four five" }] }),
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('"error"');
    expect(body).not.toContain("[DONE]");
    const row = await spendLog(res.headers.get("x-litellm-call-id")!);
    expect(row.status).toBe("failure");
  });

  it("keeps the provider connection for the next request after streams and answers", async () => {
    const messages = [{ role: "user" as const, content: "one two" }];
    const stream = async () => {
      for await (const _ of await client.chat.completions.create({ model: "fast-model", stream: true, messages }));
    };
    // Warm: the pool holds a connection.
    await stream();
    const before = provider.connections;
    for (let i = 0; i < 10; i++) {
      await stream();
      await client.chat.completions.create({ model: "fast-model", messages });
    }
    expect(provider.connections).toBe(before);
  });

  it("stops the provider's stream when the client goes away mid-stream", async () => {
    provider.behavior.chunkDelayMs = 200;
    try {
      const abort = new AbortController();
      const stream = await client.chat.completions.create(
        { model: "fast-model", stream: true, messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }] },
        { signal: abort.signal },
      );
      const reader = stream[Symbol.asyncIterator]();
      await reader.next();
      expect(provider.inFlight).toBe(1);
      abort.abort();
      await reader.next().catch(() => undefined);
      // The rest of the answer would take two seconds more.
      await eventually("the provider's stream to be closed", async () => (provider.inFlight === 0 ? true : undefined), 1000);
    } finally {
      provider.behavior.chunkDelayMs = 0;
    }
  });

  it("passes the provider's rate limits on as llm_provider- headers, and in OpenAI's names where the key sets none", async () => {
    provider.behavior.rateLimitHeaders = {
      "x-ratelimit-limit-requests": "500",
      "x-ratelimit-remaining-requests": "499",
      "x-ratelimit-reset-requests": "120ms",
      "x-ratelimit-limit-tokens": "30000",
    };
    const hi = [{ role: "user" as const, content: "hi" }];
    const whole = (await client.chat.completions.create({ model: "fast-model", messages: hi }).withResponse()).response.headers;
    const streamed = (await client.chat.completions.create({ model: "fast-model", stream: true, messages: hi }).withResponse()).response.headers;
    for (const headers of [whole, streamed]) {
      expect(headers.get("x-ratelimit-remaining-requests")).toBe("499");
      expect(headers.get("x-ratelimit-reset-requests")).toBe("120ms");
      expect(headers.get("llm_provider-x-ratelimit-limit-requests")).toBe("500");
    }

    const minted = await fetch(`${baseUrl}/key/generate`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}` }, body: JSON.stringify({ rpm_limit: 100 }) });
    const limited = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: ((await minted.json()) as { key: string }).key, maxRetries: 0 });
    const headers = (await limited.chat.completions.create({ model: "fast-model", messages: hi }).withResponse()).response.headers;
    // The key's own request limit; the provider's token limit, which the key does not set.
    expect([headers.get("x-ratelimit-limit-requests"), headers.get("llm_provider-x-ratelimit-limit-requests"), headers.get("x-ratelimit-limit-tokens")]).toEqual(["100", "500", "30000"]);
  });

  it("lists the configured model groups", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["fast-model"]);
  });

  it("answers without the /v1 prefix too", async () => {
    const res = await fetch(`${baseUrl}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}` },
      body: JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
  });

  it("rejects a wrong key with 401", async () => {
    const bad = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 401,
      type: "authentication_error",
    });
    expect(provider.requests).toHaveLength(0);
  });

  it("rejects an unknown model with 400 naming the models that exist, and records it", async () => {
    const err = await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("fast-model");
    const row = await spendLog((err as InstanceType<typeof OpenAI.BadRequestError>).headers?.get("x-litellm-call-id") ?? "");
    expect(row.status).toBe("failure");
  });

  it("maps a provider failure to an OpenAI error with the provider's status", async () => {
    provider.behavior.failNext = 1;
    provider.behavior.failStatus = 429;
    await expect(client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({
      status: 429,
    });
    provider.behavior.failStatus = 500;
  });

  it("answers bad input with OpenAI-style errors and keeps serving", async () => {
    const post = (body: string) =>
      fetch(`${baseUrl}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}` }, body });
    const badJson = await post("{not json");
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const noModel = await post(JSON.stringify({ messages: [] }));
    expect(noModel.status).toBe(400);
    const noMessages = await post(JSON.stringify({ model: "fast-model" }));
    expect(noMessages.status).toBe(400);
    const tooBig = await post(JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "x".repeat(33 * 2 ** 20) }] }));
    expect(tooBig.status).toBe(413);
    const missing = await fetch(`${baseUrl}/v1/nothing-here`);
    expect(missing.status).toBe(404);
    const ok = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "still there?" }] });
    expect(ok.choices[0]?.message.content).toBe("Echo: still there?");
  });

  it("refuses a model, stream or message of the wrong type, naming the parameter, before calling anyone", async () => {
    // Raw HTTP: the SDK's types would not let these through.
    const ask = async (fields: Record<string, unknown>) => {
      const res = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "hi" }], ...fields }),
      });
      return { status: res.status, body: await res.json() };
    };
    expect(await ask({ stream: "true" })).toEqual({
      status: 400,
      body: { error: { message: "stream must be a boolean", type: "invalid_request_error", param: "stream", code: "400" } },
    });
    expect(await ask({ model: 123 })).toEqual({
      status: 400,
      body: { error: { message: "model must be a string", type: "invalid_request_error", param: "model", code: "400" } },
    });
    expect(await ask({ messages: [{ role: "user", content: "hi" }, null] })).toEqual({
      status: 400,
      body: { error: { message: "messages[1] must be an object", type: "invalid_request_error", param: "messages", code: "400" } },
    });
    expect(await ask({ messages: [{ content: "hi" }] })).toEqual({
      status: 400,
      body: { error: { message: "messages[0].role must be a string", type: "invalid_request_error", param: "messages", code: "400" } },
    });
    expect(provider.requests).toHaveLength(0);
  });

  it("serves health checks and guards /spend/logs with the master key", async () => {
    expect((await fetch(`${baseUrl}/health/liveliness`)).status).toBe(200);
    const readiness = await fetch(`${baseUrl}/health/readiness`);
    expect(readiness.status).toBe(200);
    // LiteLLM's readiness names the database's state; monitors check db == "connected". A split edge holds no database.
    expect(await readiness.json()).toEqual(mode.split ? { status: "healthy" } : { status: "healthy", db: "connected" });
    const anonymous = await fetch(`${baseUrl}/spend/logs`);
    expect(anonymous.status).toBe(401);
  });
});
