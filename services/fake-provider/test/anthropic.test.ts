import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: "sk-ant-test" } });
});

afterEach(async () => {
  await provider.close();
});

const headers = { "content-type": "application/json", "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" };

function messages(body: unknown, extra: Record<string, string> = {}): Promise<Response> {
  return fetch(`${provider.url}/v1/messages`, { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) });
}

const hello = { model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "hello there world" }] };

/** The [event name, data] pairs of an Anthropic stream. */
function events(text: string): [string, any][] {
  return text
    .split("\n\n")
    .filter((frame) => frame.length > 0)
    .map((frame) => {
      const [name, data] = frame.split("\n");
      expect(name).toMatch(/^event: /);
      expect(data).toMatch(/^data: /);
      return [name!.slice(7), JSON.parse(data!.slice(6))];
    });
}

describe("anthropic messages", () => {
  it("lists its models at GET /v1/models for Anthropic's clients, and OpenAI's list there for the rest", async () => {
    provider.behavior.listedModels = ["claude-haiku-4-5", "claude-sonnet-4-5"];
    const anthropic = await fetch(`${provider.url}/v1/models`, { headers: { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" } });
    expect(await anthropic.json()).toMatchObject({
      data: [{ type: "model", id: "claude-haiku-4-5" }, { type: "model", id: "claude-sonnet-4-5" }],
      has_more: false,
      first_id: "claude-haiku-4-5",
      last_id: "claude-sonnet-4-5",
    });
    const openai = await fetch(`${provider.url}/v1/models`, { headers: { authorization: "Bearer sk-ant-test" } });
    expect(await openai.json()).toMatchObject({ object: "list", data: [{ id: "claude-haiku-4-5" }, { id: "claude-sonnet-4-5" }] });
  });

  it("answers with a message, its stop reason and usage", async () => {
    const res = await messages({ ...hello, system: "two words" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: "msg_fake_1",
      type: "message",
      role: "assistant",
      model: "claude-test",
      content: [{ type: "text", text: "Echo: hello there world" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 8, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it("reports cache reads and writes out of the input tokens", async () => {
    Object.assign(provider.behavior, { cachedPromptTokens: 2, cacheWriteTokens: 1 });
    const body = (await (await messages(hello)).json()) as { usage: unknown };
    expect(body.usage).toEqual({ input_tokens: 3, output_tokens: 4, cache_creation_input_tokens: 1, cache_read_input_tokens: 2 });
  });

  it("splits cache writes by lifetime when told how many went to the one-hour cache, in the stream's message_start too", async () => {
    Object.assign(provider.behavior, { cacheWriteTokens: 5, cacheWrite1hTokens: 3 });
    const body = (await (await messages(hello)).json()) as { usage: unknown };
    expect(body.usage).toEqual({
      input_tokens: 1,
      output_tokens: 4,
      cache_creation_input_tokens: 5,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 },
    });
    const start = events(await (await messages({ ...hello, stream: true })).text())[0]![1];
    expect(start.message.usage.cache_creation).toEqual({ ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 });
  });

  it("stops at a stop sequence or max_tokens", async () => {
    const stopped = (await (await messages({ ...hello, stop_sequences: ["there"] })).json()) as Record<string, unknown>;
    expect(stopped).toMatchObject({ content: [{ text: "Echo: hello " }], stop_reason: "stop_sequence", stop_sequence: "there" });
    const cut = (await (await messages({ ...hello, max_tokens: 2 })).json()) as Record<string, unknown>;
    expect(cut).toMatchObject({ content: [{ text: "Echo: hello" }], stop_reason: "max_tokens" });
  });

  it("uses the first tool when asked about the weather", async () => {
    const body = await (
      await messages({ ...hello, tools: [{ name: "get_weather", input_schema: { type: "object" } }], messages: [{ role: "user", content: "weather?" }] })
    ).json();
    expect(body).toMatchObject({ content: [{ type: "tool_use", id: "toolu_fake_1", name: "get_weather", input: { location: "Paris" } }], stop_reason: "tool_use" });
  });

  it("calls a forced tool with an input made from its schema, streamed too, and refuses one not among the tools or while thinking", async () => {
    const schema = {
      type: "object",
      properties: { city: { type: "string", minLength: 10 }, rank: { type: "integer", minimum: 3 }, kind: { enum: ["a", "b"] }, tags: { type: "array", items: { type: "string" } } },
      required: ["city", "rank", "kind", "tags"],
    };
    const forced = { ...hello, tools: [{ name: "w", input_schema: {} }, { name: "answer", input_schema: schema }], tool_choice: { type: "tool", name: "answer" } };
    const input = { city: "examplexxx", rank: 3, kind: "a", tags: ["example"] };
    expect(await (await messages(forced)).json()).toMatchObject({ content: [{ type: "tool_use", name: "answer", input }], stop_reason: "tool_use" });
    const list = events(await (await messages({ ...forced, stream: true })).text());
    expect(JSON.parse(list.filter(([name]) => name === "content_block_delta").map(([, d]) => d.delta.partial_json).join(""))).toEqual(input);

    const missing = await messages({ ...forced, tool_choice: { type: "tool", name: "nope" } });
    expect(missing.status).toBe(400);
    const thinking = await messages({ ...forced, max_tokens: 2000, thinking: { type: "enabled", budget_tokens: 1024 } });
    expect(await thinking.json()).toMatchObject({ error: { message: "Thinking may not be enabled when tool_choice forces tool use." } });
  });

  it("streams named events: message_start, a block of deltas, message_delta, message_stop", async () => {
    const res = await messages({ ...hello, stream: true });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const list = events(await res.text());
    expect(list.map(([name]) => name)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    for (const [name, data] of list) expect(data.type).toBe(name);
    expect(list[0]![1].message).toMatchObject({ content: [], stop_reason: null, usage: { input_tokens: 6, output_tokens: 1 } });
    expect(list.slice(3, 7).map(([, d]) => d.delta.text).join("")).toBe("Echo: hello there world");
    expect(list[8]![1]).toEqual({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 4 } });
  });

  it("streams a tool call as input_json_delta halves", async () => {
    const res = await messages({ ...hello, stream: true, tools: [{ name: "w", input_schema: {} }], messages: [{ role: "user", content: "weather?" }] });
    const list = events(await res.text());
    expect(list[1]![1].content_block).toEqual({ type: "tool_use", id: "toolu_fake_1", name: "w", input: {} });
    const json = list.filter(([name]) => name === "content_block_delta").map(([, d]) => d.delta.partial_json).join("");
    expect(JSON.parse(json)).toEqual({ location: "Paris" });
  });

  it("answers errors in Anthropic's shape: bad key, missing headers and fields, injected failures", async () => {
    const denied = await messages(hello, { "x-api-key": "wrong" });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } });
    const noVersion = await fetch(`${provider.url}/v1/messages`, { method: "POST", headers: { "x-api-key": "sk-ant-test" }, body: JSON.stringify(hello) });
    expect(noVersion.status).toBe(400);
    const noMax = await messages({ model: "m", messages: hello.messages });
    expect(await noMax.json()).toMatchObject({ error: { type: "invalid_request_error", message: "max_tokens: Field required" } });
    Object.assign(provider.behavior, { failNext: 1, failStatus: 529 });
    const overloaded = await messages(hello);
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    const nullTemperature = await messages({ ...hello, temperature: null });
    expect(nullTemperature.status).toBe(400);
    expect(await nullTemperature.json()).toMatchObject({ error: { type: "invalid_request_error", message: "temperature: Input should be a valid number" } });
  });

  it("quotes an object whose toString is not a function as JSON in its 400, and refuses it as an effort", async () => {
    const named = await messages({ ...hello, tools: [{ name: "x", input_schema: {} }], tool_choice: { type: "tool", name: { toString: 1 } } });
    expect(named.status).toBe(400);
    expect(await named.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message: 'tool_choice: tool `{"toString":1}` not found in tools' } });
    const effort = await messages({ ...hello, model: "claude-opus-4-7", thinking: { type: "adaptive" }, output_config: { effort: { toString: 1 } } });
    expect(effort.status).toBe(400);
    expect(await effort.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(/^output_config.effort: /) } });
  });

  it("ends a stream with an error event after the 200 when told to", async () => {
    Object.assign(provider.behavior, { streamErrorAfterChunks: 1 });
    const res = await messages({ ...hello, stream: true });
    expect(res.status).toBe(200);
    expect(events(await res.text())).toEqual([
      ["message_start", expect.anything()],
      ["content_block_start", expect.anything()],
      ["ping", { type: "ping" }],
      ["content_block_delta", expect.anything()],
      ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }],
    ]);
  });
});
