import Anthropic, { APIError, AuthenticationError, BadRequestError, InternalServerError, NotFoundError, PermissionDeniedError, RateLimitError } from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { PIXEL_PNG, providersConfig } from "./support/providers.js";

const weatherTool = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: { type: "object" as const, properties: { location: { type: "string" } }, required: ["location"] },
};

describe.each(MODES)("POST /v1/messages, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: Anthropic;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => {
    ({ provider, gateway } = setup);
    client = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
  });

  describe("translated for an OpenAI deployment", () => {
    it("answers with an Anthropic message and books it as a messages call", async () => {
      const { data, response } = await client.messages
        .create({ model: "gpt", max_tokens: 100, system: "Be brief.", messages: [{ role: "user", content: "hello from claude code" }] })
        .withResponse();
      expect(data).toMatchObject({ type: "message", role: "assistant", stop_reason: "end_turn", content: [{ type: "text", text: "Echo: hello from claude code" }] });
      expect(data.usage.output_tokens).toBe(5);
      const upstream = provider.requests.at(-1)!;
      expect(upstream.path).toBe("/v1/chat/completions");
      expect(upstream.body).toMatchObject({
        model: "gpt-4o-mini",
        max_tokens: 100,
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "hello from claude code" },
        ],
      });
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "anthropic_messages", custom_llm_provider: "openai", completion_tokens: 5, prompt_tokens: data.usage.input_tokens, status: "success" });
      expect(Number(response.headers.get("x-litellm-response-cost"))).toBeCloseTo(row["spend"] as number, 15);
      expect(row["spend"]).toBeGreaterThan(0);
    });

    it("streams Anthropic's named events built from OpenAI chunks, usage included", async () => {
      const stream = client.messages.stream({ model: "gpt", max_tokens: 100, messages: [{ role: "user", content: "one two three" }] });
      const names: string[] = [];
      stream.on("streamEvent", (event) => names.push(event.type));
      const message = await stream.finalMessage();
      expect(message.content).toEqual([{ type: "text", text: "Echo: one two three" }]);
      expect(message.stop_reason).toBe("end_turn");
      expect(message.usage.output_tokens).toBe(4);
      expect(message.usage.input_tokens).toBeGreaterThan(0);
      expect(names[0]).toBe("message_start");
      expect(names.slice(-2)).toEqual(["message_delta", "message_stop"]);
      expect(names.filter((n) => n === "content_block_delta")).toHaveLength(4);
      const upstream = provider.requests.at(-1)!.body as { stream: boolean; stream_options: { include_usage: boolean } };
      expect(upstream.stream_options.include_usage).toBe(true);
    });

    it("turns tool use into OpenAI tool calls and back, streamed and not", async () => {
      const ask = { role: "user" as const, content: "What is the weather in Paris?" };
      const message = await client.messages.create({ model: "gpt", max_tokens: 100, tools: [weatherTool], tool_choice: { type: "any" }, messages: [ask] });
      expect(message.stop_reason).toBe("tool_use");
      const toolUse = message.content.find((b) => b.type === "tool_use");
      expect(toolUse).toMatchObject({ type: "tool_use", name: "get_weather", input: { location: "Paris" } });
      expect(provider.requests.at(-1)!.body).toMatchObject({
        tools: [{ type: "function", function: { name: "get_weather", parameters: weatherTool.input_schema } }],
        tool_choice: "required",
      });

      const streamed = await client.messages.stream({ model: "gpt", max_tokens: 100, tools: [weatherTool], messages: [ask] }).finalMessage();
      expect(streamed.stop_reason).toBe("tool_use");
      expect(streamed.content.find((b) => b.type === "tool_use")).toMatchObject({ name: "get_weather", input: { location: "Paris" } });

      const answer = await client.messages.create({
        model: "gpt",
        max_tokens: 100,
        tools: [weatherTool],
        messages: [
          ask,
          { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny, 24C" }] },
        ],
      });
      expect(answer.content[0]).toMatchObject({ type: "text", text: "Echo: What is the weather in Paris?" });
      expect((provider.requests.at(-1)!.body as { messages: unknown[] }).messages.slice(1)).toEqual([
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        { role: "tool", tool_call_id: "toolu_1", content: "sunny, 24C" },
      ]);
    });

    it("streams parallel tool calls whose pieces the server interleaves as one tool_use block each", async () => {
      provider.behavior.interleavedToolCalls = true;
      const ask = { model: "gpt", max_tokens: 100, tools: [weatherTool], messages: [{ role: "user" as const, content: "What is the weather in Paris?" }] };
      const calls = [
        { type: "tool_use", id: "call_fake_1", name: "get_weather", input: { location: "Paris" } },
        { type: "tool_use", id: "call_fake_2", name: "get_weather", input: { location: "Paris" } },
      ];
      expect((await client.messages.create(ask)).content).toEqual(calls);
      const stream = client.messages.stream(ask);
      const starts: number[] = [];
      stream.on("streamEvent", (event) => {
        if (event.type === "content_block_start") starts.push(event.index);
      });
      const message = await stream.finalMessage();
      expect(message.stop_reason).toBe("tool_use");
      expect(message.content).toEqual(calls);
      expect(starts).toEqual([0, 1]);
    });

    it("asks OpenAI's reasoning models for max_completion_tokens, the only limit they take", async () => {
      const ask = { model: "gpt-reasoning", max_tokens: 3, messages: [{ role: "user" as const, content: "one two three four" }] };
      const message = await client.messages.create(ask);
      expect(message).toMatchObject({ stop_reason: "max_tokens", content: [{ type: "text", text: "Echo: one two" }] });
      expect(provider.requests.at(-1)!.body).toMatchObject({ model: "o4-mini", max_completion_tokens: 3 });
      expect(provider.requests.at(-1)!.body).not.toHaveProperty("max_tokens");

      const streamed = await client.messages.stream(ask).finalMessage();
      expect(streamed).toMatchObject({ stop_reason: "max_tokens", content: [{ type: "text", text: "Echo: one two" }] });
    });

    it("asks OpenAI's reasoning models for the reasoning_effort nearest the thinking budget", async () => {
      const hi = [{ role: "user" as const, content: "hi" }];
      for (const [thinking, effort] of [
        [{ type: "enabled" as const, budget_tokens: 1024 }, "low"],
        [{ type: "enabled" as const, budget_tokens: 3000 }, "medium"],
        [{ type: "enabled" as const, budget_tokens: 10_000 }, "high"],
      ] as const) {
        await client.messages.create({ model: "gpt-reasoning", max_tokens: 20_000, thinking, messages: hi });
        expect(provider.requests.at(-1)!.body).toMatchObject({ model: "o4-mini", reasoning_effort: effort, max_completion_tokens: 20_000 });
        expect(provider.requests.at(-1)!.body).not.toHaveProperty("thinking");
      }
    });

    it("sends images on as image_url parts", async () => {
      await client.messages.create({
        model: "gpt",
        max_tokens: 10,
        messages: [{ role: "user", content: [{ type: "text", text: "what is this" }, { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } }] }],
      });
      const sent = (provider.requests.at(-1)!.body as { messages: { content: unknown }[] }).messages[0]!.content;
      expect(sent).toEqual([
        { type: "text", text: "what is this" },
        { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL_PNG}` } },
      ]);
    });

    it("sends plain-text documents on as text parts, headed by their titles, to OpenAI and Gemini deployments", async () => {
      const content = [
        { type: "document" as const, title: "Notes", source: { type: "text" as const, media_type: "text/plain" as const, data: "The meeting is at noon." } },
        { type: "text" as const, text: "when is it?" },
      ];
      const message = await client.messages.create({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content }] });
      expect(message.content).toEqual([{ type: "text", text: "Echo: Notes\n\nThe meeting is at noon. when is it?" }]);
      expect((provider.requests.at(-1)!.body as { messages: { content: unknown }[] }).messages[0]!.content).toEqual([
        { type: "text", text: "Notes\n\nThe meeting is at noon." },
        { type: "text", text: "when is it?" },
      ]);
      await client.messages.create({ model: "gemini-flash", max_tokens: 10, messages: [{ role: "user", content }] });
      expect(provider.requests.at(-1)!.body).toMatchObject({ contents: [{ role: "user", parts: [{ text: "Notes\n\nThe meeting is at noon." }, { text: "when is it?" }] }] });
    });

    it("refuses a parameter the deployment cannot take, naming it, in Anthropic's error shape", async () => {
      const err = await client.messages
        .create({ model: "gpt", max_tokens: 2048, thinking: { type: "enabled", budget_tokens: 1024 }, messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
      expect((err as BadRequestError).message).toContain("thinking");
      expect(provider.requests).toHaveLength(0);
    });

    it("maps a provider failure to Anthropic's error type for its status", async () => {
      provider.behavior.failNext = 1;
      const err = await client.messages.create({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalServerError);
      // A provider's 500 is a bad answer upstream: the gateway says 502.
      expect((err as APIError).status).toBe(502);
      expect((err as APIError).error).toMatchObject({ type: "error", error: { type: "api_error" } });
    });

    it("reports a broken stream as an error event, and books it as a failure", async () => {
      provider.behavior.breakStreamAfterChunks = 1;
      const res = await fetch(`${gateway.baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "gpt", max_tokens: 10, stream: true, messages: [{ role: "user", content: "one two three" }] }),
      });
      expect(res.status).toBe(200);
      const body = await res.text();
      expect(body).toContain("event: error\ndata: {\"type\":\"error\"");
      expect(body).not.toContain("message_stop");
      const row = await gateway.spendLog(res.headers.get("x-litellm-call-id")!);
      expect(row["status"]).toBe("failure");
    });
  });

  it("reaches a Gemini deployment too, translated through OpenAI's shapes both ways", async () => {
    const stream = client.messages.stream({ model: "gemini-flash", max_tokens: 100, tools: [weatherTool], messages: [{ role: "user", content: "weather in Paris?" }] });
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toEqual([expect.objectContaining({ type: "tool_use", name: "get_weather", input: { location: "Paris" } })]);
    expect(message.usage).toMatchObject({ input_tokens: 3, output_tokens: 1 });
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", body: { generationConfig: { maxOutputTokens: 100 } } });
  });

  it("refuses disable_parallel_tool_use on Gemini, which cannot turn parallel calls off, naming it as the client sent it, and drops it under drop_params", async () => {
    const ask = {
      max_tokens: 100,
      tools: [weatherTool],
      tool_choice: { type: "auto" as const, disable_parallel_tool_use: true },
      messages: [{ role: "user" as const, content: "weather in Paris?" }],
    };
    const err = await client.messages.create({ model: "gemini-flash", ...ask }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).error).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringContaining("tool_choice.disable_parallel_tool_use") } });
    expect((err as BadRequestError).message).not.toContain("parallel_tool_calls");
    expect(provider.requests).toHaveLength(0);

    const dropped = await client.messages.create({ model: "gemini-lenient", ...ask });
    expect(dropped.stop_reason).toBe("tool_use");
    expect(provider.requests.at(-1)!.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");

    // OpenAI has the switch: parallel_tool_calls false.
    await client.messages.create({ model: "gpt", ...ask });
    expect(provider.requests.at(-1)!.body).toMatchObject({ tool_choice: "auto", parallel_tool_calls: false });
  });

  describe("passed through to an Anthropic deployment", () => {
    it("sends the body as it came, with the provider's key, and returns Anthropic's message as it came", async () => {
      const { data, response } = await client.messages
        .create(
          { model: "claude", max_tokens: 50, temperature: 0.2, messages: [{ role: "user", content: "hi there" }] },
          { headers: { "anthropic-beta": "prompt-caching-2024-07-31" } },
        )
        .withResponse();
      expect(data.id).toMatch(/^msg_fake_/);
      expect(data.content).toEqual([{ type: "text", text: "Echo: hi there" }]);
      const upstream = provider.requests.at(-1)!;
      expect(upstream.path).toBe("/v1/messages");
      expect(upstream.body).toEqual({ model: "claude-3-5-sonnet-20241022", max_tokens: 50, temperature: 0.2, messages: [{ role: "user", content: "hi there" }] });
      expect(upstream.headers).toMatchObject({ "x-api-key": PROVIDER_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31" });
      expect(JSON.stringify(upstream)).not.toContain(MASTER_KEY);
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ call_type: "anthropic_messages", custom_llm_provider: "anthropic", model: "claude-3-5-sonnet-20241022", usage_estimated: false });
    });

    it("books the searches Anthropic's web search tool ran, at $10 per thousand, beside the tokens", async () => {
      provider.behavior.webSearchRequests = 3;
      const { data, response } = await client.messages.create({ model: "claude", max_tokens: 50, messages: [{ role: "user", content: "news today" }] }).withResponse();
      expect(data.usage.server_tool_use).toEqual({ web_search_requests: 3 });
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      // claude-3-5-sonnet: $3 in and $15 out per million tokens.
      expect(row["spend"]).toBeCloseTo((data.usage.input_tokens * 3 + data.usage.output_tokens * 15) / 1e6 + 3 * 0.01, 12);
    });

    it("streams the provider's events through and books cache tokens at cache prices", async () => {
      Object.assign(provider.behavior, { cachedPromptTokens: 4, cacheWriteTokens: 2 });
      const stream = client.messages.stream({
        model: "claude",
        max_tokens: 50,
        system: [{ type: "text", text: "a long system prompt worth caching", cache_control: { type: "ephemeral" } }],
        messages: [{ role: "user", content: "hello" }],
      });
      const names: string[] = [];
      stream.on("streamEvent", (event) => names.push(event.type));
      const message = await stream.finalMessage();
      const { response } = await stream.withResponse();
      expect(message.content).toEqual([{ type: "text", text: "Echo: hello" }]);
      expect(message.usage).toMatchObject({ cache_read_input_tokens: 4, cache_creation_input_tokens: 2, output_tokens: 2 });
      // The fake's ping passes through too (the SDK skips it, so it is not in names).
      expect(names).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
      const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      const input = message.usage.input_tokens;
      expect(row["prompt_tokens"]).toBe(input + 6);
      // claude-3-5-sonnet: $3 input, $0.30 cache reads, $3.75 cache writes, $15 output per million.
      expect(row["spend"]).toBeCloseTo((input * 3 + 4 * 0.3 + 2 * 3.75 + 2 * 15) / 1e6, 12);
    });

    it("passes the provider's own errors on with their status and type", async () => {
      Object.assign(provider.behavior, { failNext: 1, failStatus: 529 });
      const overloaded = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect((overloaded as APIError).status).toBe(529);
      expect((overloaded as APIError).error).toMatchObject({ error: { type: "overloaded_error" } });
      Object.assign(provider.behavior, { failNext: 1, failStatus: 429 });
      const limited = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(RateLimitError);
      expect((limited as APIError).error).toMatchObject({ error: { type: "rate_limit_error" } });
    });

    it("passes an error event from the middle of Anthropic's stream on with its type, after the events before it", async () => {
      for (const type of ["overloaded_error", "timeout_error"]) {
        Object.assign(provider.behavior, { streamErrorAfterChunks: 1, streamErrorType: type });
        const stream = client.messages.stream({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "one two three" }] });
        const names: string[] = [];
        stream.on("streamEvent", (event) => names.push(event.type));
        const err = await stream.finalMessage().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(APIError);
        expect((err as APIError).error).toMatchObject({ type: "error", error: { type } });
        expect(names).toEqual(["message_start", "content_block_start", "content_block_delta"]);
        const { response } = await stream.withResponse();
        const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
        expect(row).toMatchObject({ status: "failure", error_type: type });
      }
    });

    it("ends a broken stream with an error the SDK raises", async () => {
      provider.behavior.breakStreamAfterChunks = 1;
      const stream = client.messages.stream({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "one two three" }] });
      await expect(stream.finalMessage()).rejects.toMatchObject({ type: "api_error" });
    });
  });

  it("names each request in Anthropic's request-id header, which the SDK reads, as the ledger names it", async () => {
    const { response, request_id } = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-litellm-call-id");
    expect(request_id).toBe(id);
    await gateway.spendLog(id!);

    const stream = client.messages.stream({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    await stream.finalMessage();
    expect(stream.request_id).toBe((await stream.withResponse()).response.headers.get("x-litellm-call-id"));

    Object.assign(provider.behavior, { failNext: 1, failStatus: 429 });
    const err = await client.messages.create({ model: "claude", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect((err as APIError).requestID).toBe((err as APIError).headers?.get("x-litellm-call-id"));
    expect((err as APIError).requestID).toBeTruthy();

    const counted = await client.messages.countTokens({ model: "claude", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(counted.response.headers.get("request-id")).toBeTruthy();
  });

  it("answers a bad or missing key, an unknown model and bad JSON with Anthropic-shaped errors", async () => {
    const stranger = new Anthropic({ baseURL: gateway.baseUrl, apiKey: "sk-wrong", maxRetries: 0 });
    const unauthorized = await stranger.messages.create({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(AuthenticationError);
    expect((unauthorized as APIError).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });

    // Anthropic's API answers a model it does not have with 404 not_found_error, which its SDKs raise as NotFoundError.
    const unknown = await client.messages.create({ model: "nope", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect((unknown as APIError).error).toMatchObject({ type: "error", error: { type: "not_found_error", message: expect.stringContaining("gpt") } });
    const unknownStream = await client.messages.stream({ model: "nope", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).finalMessage().catch((e: unknown) => e);
    expect(unknownStream).toBeInstanceOf(NotFoundError);

    // A key that may not use the model is Anthropic's 403 permission_error, not a bad key.
    const { json: generated } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["claude"] });
    const limited = new Anthropic({ baseURL: gateway.baseUrl, apiKey: generated.key, maxRetries: 0 });
    const denied = await limited.messages.create({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect((denied as APIError).error).toMatchObject({ type: "error", error: { type: "permission_error", message: expect.stringContaining("may not use model=gpt") } });

    const keyless = await fetch(`${gateway.baseUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
    });
    expect(keyless.status).toBe(401);
    expect(await keyless.json()).toMatchObject({ type: "error", error: { type: "authentication_error", message: expect.stringContaining("x-api-key") } });

    const badJson = await fetch(`${gateway.baseUrl}/v1/messages`, { method: "POST", headers: { "x-api-key": MASTER_KEY }, body: "{nope" });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });

    for (const [method, path] of [["GET", "/v1/messages"], ["DELETE", "/v1/messages/count_tokens"]] as const) {
      const wrongMethod = await fetch(`${gateway.baseUrl}${path}`, { method, headers: { "x-api-key": MASTER_KEY } });
      expect(wrongMethod.status).toBe(404);
      expect(await wrongMethod.json()).toMatchObject({ type: "error", error: { type: "not_found_error", message: `no route for ${method} ${path}` } });
    }
    expect(provider.requests).toHaveLength(0);
  });

  it("refuses a model, stream or message of the wrong type with Anthropic-shaped errors", async () => {
    // Raw HTTP: the SDK's types would not let these through.
    const ask = async (fields: Record<string, unknown>) => {
      const res = await fetch(`${gateway.baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "gpt", max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...fields }),
      });
      return { status: res.status, body: await res.json() };
    };
    expect(await ask({ stream: "true" })).toEqual({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "stream must be a boolean" } } });
    expect(await ask({ model: 123 })).toEqual({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "model must be a string" } } });
    expect(await ask({ messages: ["hi"] })).toEqual({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "messages.0: must be an object" } } });
    expect(await ask({ messages: [{ role: null, content: "hi" }] })).toEqual({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message: "messages.0.role: must be a string" } } });
    expect(provider.requests).toHaveLength(0);
  });

  it("refuses a system prompt or message content Anthropic would not take, on a translated deployment too, which would leave it out", async () => {
    const refused = async (model: string, fields: Record<string, unknown>) => {
      const err = await client.messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...fields } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadRequestError);
      return ((err as BadRequestError).error as { error: { type: string; message: string } }).error;
    };
    const ask = (content: unknown) => ({ messages: [{ role: "user", content: "first" }, { role: "assistant", content: "ok" }, { role: "user", content }] });
    const answer = (content: unknown) => ({ messages: [{ role: "user", content: "first" }, { role: "assistant", content }, { role: "user", content: "go on" }] });
    const call = { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } };
    const png = { type: "base64", media_type: "image/png", data: PIXEL_PNG };
    const cases: [Record<string, unknown>, string][] = [
      [ask(5), "messages.2.content: must be a string or a list of content blocks"],
      [ask(null), "messages.2.content: must be a string or a list of content blocks"],
      [ask({ type: "text", text: "hi" }), "messages.2.content: must be a string or a list of content blocks"],
      [{ messages: [{ role: "user" }] }, "messages.0.content: must be a string or a list of content blocks"],
      [ask([{ type: "text", text: "hi" }, null]), "messages.2.content.1: must be an object"],
      [ask(["hi"]), "messages.2.content.0: must be an object"],
      [ask([{ type: "text", text: { toString: 1 } }]), "messages.2.content.0.text: must be a string"],
      [ask([{ type: "text" }]), "messages.2.content.0.text: must be a string"],
      [{ system: 5 }, "system: must be a string or a list of text blocks"],
      [{ system: [{ type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } }] }, 'system.0.type: must be "text"'],
      [{ system: [{ type: "text", text: null }] }, "system.0.text: must be a string"],
      // A block's fields of the wrong type, which reached the provider (or its translation) as they came.
      [answer([{ ...call, id: { id: "toolu_1" } }]), "messages.1.content.0.id: must be a string"],
      [answer([{ type: "text", text: "calling" }, { ...call, name: 7 }]), "messages.1.content.1.name: must be a string"],
      [answer([{ type: "tool_use", id: "toolu_1", input: {} }]), "messages.1.content.0.name: must be a string"],
      [answer([{ ...call, input: "Paris" }]), "messages.1.content.0.input: must be an object"],
      [answer([{ ...call, input: ["Paris"] }]), "messages.1.content.0.input: must be an object"],
      [answer([{ type: "thinking", thinking: 5, signature: "sig" }, call]), "messages.1.content.0.thinking: must be a string"],
      [answer([{ type: "thinking", thinking: "Paris, then." }, call]), "messages.1.content.0.signature: must be a string"],
      [answer([{ type: "redacted_thinking", data: null }]), "messages.1.content.0.data: must be a string"],
      [ask([{ type: "tool_result", tool_use_id: 1, content: "sunny" }]), "messages.2.content.0.tool_use_id: must be a string"],
      [ask([{ type: "tool_result", tool_use_id: "toolu_1", content: 5 }]), "messages.2.content.0.content: must be a string or a list of content blocks"],
      [ask([{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: 5 }] }]), "messages.2.content.0.content.0.text: must be a string"],
      [ask([{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "image", source: { ...png, data: 5 } }] }]), "messages.2.content.0.content.0.source.data: must be a string"],
      [ask([{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny", is_error: "yes" }]), "messages.2.content.0.is_error: must be a boolean"],
      [ask([{ type: "image" }]), "messages.2.content.0.source: must be an object"],
      [ask([{ type: "image", source: "https://example.com/cat.png" }]), "messages.2.content.0.source: must be an object"],
      [ask([{ type: "image", source: { media_type: "image/png", data: PIXEL_PNG } }]), "messages.2.content.0.source.type: must be a string"],
      [ask([{ type: "text", text: "look" }, { type: "image", source: { ...png, media_type: null } }]), "messages.2.content.1.source.media_type: must be a string"],
      [ask([{ type: "image", source: { type: "url", url: { href: "https://example.com/cat.png" } } }]), "messages.2.content.0.source.url: must be a string"],
      [ask([{ type: "document", source: { type: "text", data: "The meeting is at noon." } }]), "messages.2.content.0.source.media_type: must be a string"],
      [ask([{ type: "document", source: { type: "file" } }]), "messages.2.content.0.source.file_id: must be a string"],
    ];
    for (const model of ["gpt", "claude"]) {
      for (const [fields, message] of cases) expect(await refused(model, fields), JSON.stringify(fields)).toEqual({ type: "invalid_request_error", message });
    }
    expect(provider.requests).toHaveLength(0);
    const answered = await client.messages.create({ model: "gpt", max_tokens: 10, system: null, messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] } as never);
    expect(answered.content).toEqual([{ type: "text", text: "Echo: hi" }]);
    // Blocks as Anthropic takes them, optional fields left out, and a kind of block the gateway does not check, reach the provider as they came.
    const conversation = [
      { role: "user", content: [{ type: "text", text: "weather?" }, { type: "image", source: { type: "url", url: "https://example.com/cat.png" } }] },
      { role: "assistant", content: [{ type: "thinking", thinking: "", signature: "" }, { type: "redacted_thinking", data: "abc" }, call] },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "sunny" }, { type: "image", source: png }], is_error: false },
          { type: "tool_result", tool_use_id: "toolu_2" },
          { type: "document", source: { type: "text", media_type: "text/plain", data: "The meeting is at noon." } },
          { type: "search_result", source: "https://example.com", title: "Weather", content: [{ type: "text", text: "sunny" }] },
        ],
      },
    ];
    await client.messages.create({ model: "claude", max_tokens: 10, tools: [weatherTool], messages: conversation } as never);
    expect(provider.requests.at(-1)!.body).toMatchObject({ messages: conversation });
  });

  it("refuses a parameter of a type Anthropic would not take, which a translated deployment would drop unheeded", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ stop_sequences: "END" }, "stop_sequences: must be a list of strings"],
      [{ stop_sequences: ["END", 5] }, "stop_sequences: must be a list of strings"],
      [{ tools: { toString: 1 } }, "tools: must be a list of objects"],
      [{ tools: [weatherTool, null] }, "tools: must be a list of objects"],
      [{ tools: [weatherTool], tool_choice: "auto" }, "tool_choice: must be an object"],
      [{ tools: [{ description: "no name", input_schema: weatherTool.input_schema }] }, "tools.0.name: must be a string"],
      [{ tools: [weatherTool, { ...weatherTool, type: "custom", name: 5 }] }, "tools.1.name: must be a string"],
      [{ tools: [{ ...weatherTool, input_schema: "{}" }] }, "tools.0.input_schema: must be an object"],
      [{ tools: [weatherTool], tool_choice: { type: "required" } }, 'tool_choice.type: must be "auto", "any", "tool" or "none"'],
      [{ tool_choice: {} }, 'tool_choice.type: must be "auto", "any", "tool" or "none"'],
      [{ tools: [weatherTool], tool_choice: { type: "tool" } }, "tool_choice.name: must be a string"],
      [{ tools: [weatherTool], tool_choice: { type: "auto", disable_parallel_tool_use: "true" } }, "tool_choice.disable_parallel_tool_use: must be a boolean"],
      [{ metadata: "user-7" }, "metadata: must be an object"],
      [{ metadata: { user_id: 7 } }, "metadata.user_id: must be a string"],
      [{ temperature: "hot" }, "temperature: must be a number"],
      [{ top_p: { toString: 1 } }, "top_p: must be a number"],
    ];
    // Raw HTTP: the SDK's types would not let these through, and it reads tools itself.
    const ask = async (model: string, fields: Record<string, unknown>) => {
      const res = await fetch(`${gateway.baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model, max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...fields }),
      });
      return { status: res.status, body: await res.json() };
    };
    for (const model of ["gpt", "claude"]) {
      for (const [fields, message] of cases) {
        expect(await ask(model, fields), JSON.stringify(fields)).toEqual({ status: 400, body: { type: "error", error: { type: "invalid_request_error", message } } });
      }
    }
    expect(provider.requests).toHaveLength(0);
    const unset = { stop_sequences: null, tools: null, tool_choice: null, metadata: { user_id: null }, temperature: null };
    expect(await ask("gpt", unset)).toMatchObject({ status: 200, body: { content: [{ type: "text", text: "Echo: hi" }] } });
    // A server tool has no input schema, and a tool choice may leave disable_parallel_tool_use unset.
    const serverTool = { tools: [weatherTool, { type: "web_search_20250305", name: "web_search" }], tool_choice: { type: "any" } };
    expect(await ask("claude", serverTool)).toMatchObject({ status: 200 });
    expect(provider.requests.at(-1)!.body).toMatchObject(serverTool);
  });

  it("refuses thinking of a type or budget Anthropic would not take, which a model that thinks by effort took as the least effort", async () => {
    const hi = [{ role: "user" as const, content: "hi" }];
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "on" }, 'thinking.type: must be "enabled", "adaptive" or "disabled"'],
      [{ type: "enabled", budget_tokens: -5 }, "thinking.budget_tokens: must be a whole number, 1024 or more"],
      [{ type: "enabled", budget_tokens: "high" }, "thinking.budget_tokens: must be a whole number, 1024 or more"],
      [{ type: "enabled", budget_tokens: 1500.5 }, "thinking.budget_tokens: must be a whole number, 1024 or more"],
      [{ type: "enabled" }, "thinking.budget_tokens: must be a whole number, 1024 or more"],
    ];
    for (const model of ["gpt-reasoning", "claude"]) {
      for (const [thinking, message] of cases) {
        const err = await client.messages.create({ model, max_tokens: 20_000, thinking, messages: hi } as never).catch((e: unknown) => e);
        expect(err, JSON.stringify(thinking)).toBeInstanceOf(BadRequestError);
        expect((err as BadRequestError).error).toEqual({ type: "error", error: { type: "invalid_request_error", message } });
      }
    }
    expect(provider.requests).toHaveLength(0);
    await client.messages.create({ model: "gpt-reasoning", max_tokens: 20_000, thinking: { type: "disabled" }, messages: hi });
    expect(provider.requests.at(-1)!.body).not.toHaveProperty("reasoning_effort");
  });

  describe("GET /v1/models for Anthropic's clients (its SDK, Claude Code's gateway model discovery)", () => {
    it("lists the model groups in Anthropic's shape, in pages, when asked with anthropic-version", async () => {
      const openai = (await (await fetch(`${gateway.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${MASTER_KEY}` } })).json()) as { object: string; data: { id: string }[] };
      expect(openai.object).toBe("list");
      const names = openai.data.map((m) => m.id);
      expect(names.length).toBeGreaterThan(5);

      const first = await client.models.list({ limit: 5 });
      expect(first.data.map((m) => m.id)).toEqual(names.slice(0, 5));
      expect(first.data[0]).toEqual({ type: "model", id: names[0], display_name: names[0], created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      expect(first.has_more).toBe(true);
      const all: string[] = [];
      for await (const model of client.models.list({ limit: 5 })) all.push(model.id);
      expect(all).toEqual(names);
      const back = await client.models.list({ limit: 2, before_id: names[4]! });
      expect(back.data.map((m) => m.id)).toEqual(names.slice(2, 4));
      expect(back.has_more).toBe(true);

      expect(await client.models.retrieve("claude")).toMatchObject({ type: "model", id: "claude", display_name: "claude" });
      const missing = await client.models.retrieve("no-such-model").catch((err: unknown) => err);
      expect(missing).toBeInstanceOf(APIError);
      expect((missing as APIError).status).toBe(404);
      expect((missing as APIError).error).toMatchObject({ type: "error", error: { type: "not_found_error", message: "The model 'no-such-model' does not exist" } });
      const badPage = await client.models.list({ after_id: "no-such-model" }).catch((err: unknown) => err);
      expect((badPage as APIError).error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    });
  });

  describe("POST /v1/messages/count_tokens", () => {
    it("estimates the input's tokens (text, tools, tool calls and results, images) without calling a provider", async () => {
      expect(await client.messages.countTokens({ model: "gpt", messages: [{ role: "user", content: "hello" }] })).toEqual({ input_tokens: 2 });
      const long = "x".repeat(4000);
      const counted = await client.messages.countTokens({
        model: "gpt",
        system: long,
        tools: [weatherTool],
        messages: [
          { role: "user", content: [{ type: "text", text: long }, { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } }] },
          { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "get_weather", input: { location: "Paris" } }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "sunny" }] },
        ],
      });
      // About four characters a token over all the text, and 1,600 for the image (its base64 is not text).
      const characters = 2 * long.length + JSON.stringify({ location: "Paris" }).length + "sunny".length + JSON.stringify([weatherTool]).length;
      expect(counted.input_tokens).toBe(Math.ceil(characters / 4) + 1600);
      expect(provider.requests).toHaveLength(0);
    });

    it("checks the model as /v1/messages does: one that does not exist is a 404, one the key may not use a 403", async () => {
      const ask = { messages: [{ role: "user" as const, content: "hi" }] };
      const unknown = await client.messages.countTokens({ model: "nope", ...ask }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(NotFoundError);
      expect((unknown as APIError).error).toMatchObject({ type: "error", error: { type: "not_found_error", message: expect.stringContaining("model=nope") } });

      const { json: generated } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["claude"] });
      const limited = new Anthropic({ baseURL: gateway.baseUrl, apiKey: generated.key, maxRetries: 0 });
      const denied = await limited.messages.countTokens({ model: "gpt", ...ask }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(PermissionDeniedError);
      expect((denied as APIError).error).toMatchObject({ type: "error", error: { type: "permission_error", message: expect.stringContaining("may not use model=gpt") } });
      expect(await limited.messages.countTokens({ model: "claude", ...ask })).toEqual({ input_tokens: 1 });
      expect(provider.requests).toHaveLength(0);
    });

    it("refuses a bad key and a request without messages, in Anthropic's shape", async () => {
      const stranger = new Anthropic({ baseURL: gateway.baseUrl, apiKey: "sk-nobody-0123456789", maxRetries: 0 });
      await expect(stranger.messages.countTokens({ model: "gpt", messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(AuthenticationError);
      // The key is checked before the body, as /v1/messages checks it: a bad key with a bad body is a 401, not a 400.
      const badBody = { model: "gpt", messages: [{ role: "user", content: 5 }] } as never;
      for (const ask of [() => stranger.messages.countTokens(badBody), () => stranger.messages.create({ ...(badBody as object), max_tokens: 10 } as never)]) {
        const err = await ask().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthenticationError);
        expect((err as APIError).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
      }
      const res = await fetch(`${gateway.baseUrl}/v1/messages/count_tokens`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt" }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "messages: must be a non-empty array" } });
    });

    it("refuses a body /v1/messages refuses, with the same 400 naming the field, for a translated and a passed-through model alike", async () => {
      const hi = [{ role: "user", content: "hi" }];
      const systemImage = [{ type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } }];
      const cases: [Record<string, unknown>, string][] = [
        [{ messages: [] }, "messages: must be a non-empty array"],
        [{ messages: [{ role: "user", content: 5 }] }, "messages.0.content: must be a string or a list of content blocks"],
        [{ messages: [{ role: "user", content: [{ type: "text", text: null }] }] }, "messages.0.content.0.text: must be a string"],
        [{ system: 5 }, "system: must be a string or a list of text blocks"],
        [{ system: systemImage }, 'system.0.type: must be "text"'],
        [{ stop_sequences: "END" }, "stop_sequences: must be a list of strings"],
        [{ tools: [weatherTool], tool_choice: "auto" }, "tool_choice: must be an object"],
        [{ tools: [weatherTool], tool_choice: { type: "required" } }, 'tool_choice.type: must be "auto", "any", "tool" or "none"'],
        [{ tools: [{ input_schema: weatherTool.input_schema }] }, "tools.0.name: must be a string"],
        [{ messages: [...hi, { role: "assistant", content: [{ type: "tool_use", id: {}, name: "get_weather", input: {} }] }] }, "messages.1.content.0.id: must be a string"],
        [{ messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", data: PIXEL_PNG } }] }] }, "messages.0.content.0.source.media_type: must be a string"],
        [{ thinking: { type: "enabled", budget_tokens: -5 } }, "thinking.budget_tokens: must be a whole number, 1024 or more"],
      ];
      // Raw HTTP: the SDK's types would not let most of these through.
      const ask = async (path: string, model: string, fields: Record<string, unknown>) => {
        const res = await fetch(`${gateway.baseUrl}${path}`, {
          method: "POST",
          headers: { "x-api-key": MASTER_KEY, "content-type": "application/json", "anthropic-version": "2023-06-01" },
          body: JSON.stringify({ model, max_tokens: 10, messages: hi, ...fields }),
        });
        return { status: res.status, body: await res.json() };
      };
      for (const model of ["gpt", "claude"]) {
        for (const [fields, message] of cases) {
          const refused = { status: 400, body: { type: "error", error: { type: "invalid_request_error", message } } };
          expect(await ask("/v1/messages/count_tokens", model, fields), JSON.stringify(fields)).toEqual(refused);
          expect(await ask("/v1/messages", model, fields), JSON.stringify(fields)).toEqual(refused);
        }
      }
      expect(provider.requests).toHaveLength(0);

      const err = await client.messages.countTokens({ model: "claude", system: systemImage, messages: [{ role: "user", content: "hi" }] } as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadRequestError);
      expect((err as BadRequestError).error).toEqual({ type: "error", error: { type: "invalid_request_error", message: 'system.0.type: must be "text"' } });
      // null is taken as unset, as /v1/messages takes it.
      expect(await client.messages.countTokens({ model: "gpt", system: null, tool_choice: null, messages: [{ role: "user", content: "hello" }] } as never)).toEqual({ input_tokens: 2 });
    });
  });
});
