import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embed, startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: "mistral-test-key" } });
});

afterEach(async () => {
  await provider.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = { authorization: "Bearer mistral-test-key" }): Promise<Response> {
  return fetch(`${provider.url}/mistral/v1${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

function chat(body: Record<string, unknown>): Promise<Response> {
  return post("/chat/completions", { model: "mistral-small-latest", messages: hello, ...body });
}

const hello = [{ role: "user", content: "hello there" }];
const weatherTool = [{ type: "function", function: { name: "get_weather", parameters: {} } }];
const thinking = { type: "thinking", thinking: [{ type: "text", text: "Thinking about it." }] };

/** The JSON payloads of an SSE body, without the closing [DONE]. */
async function chunks(res: Response): Promise<any[]> {
  const frames = (await res.text()).split("\n\n").filter((f) => f !== "");
  expect(frames.at(-1)).toBe("data: [DONE]");
  return frames.slice(0, -1).map((f) => JSON.parse(f.slice("data: ".length)));
}

/** The pydantic detail list of a 422. */
async function detail(res: Response): Promise<any[]> {
  expect(res.status).toBe(422);
  const body = (await res.json()) as any;
  expect(body).toMatchObject({ object: "error", type: "invalid_request_error", param: null, code: null });
  return body.message.detail;
}

describe("mistral", () => {
  it("answers a chat completion in OpenAI's shape, without OpenAI's extra fields", async () => {
    const res = await chat({ temperature: 0.2, random_seed: 7, safe_prompt: false });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: "cmpl-fake-1",
      created: expect.any(Number),
      model: "mistral-small-latest",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: "Echo: hello there" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
    });
  });

  it("calls the tool with content \"\" beside it, and truncates at max_tokens", async () => {
    const called = await chat({ messages: [{ role: "user", content: "weather?" }], tools: weatherTool });
    expect(await called.json()).toMatchObject({
      choices: [{ message: { content: "", tool_calls: [{ id: "fakeCall1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] }, finish_reason: "tool_calls" }],
    });
    const cut = await chat({ max_tokens: 1 });
    expect(await cut.json()).toMatchObject({ choices: [{ message: { content: "Echo:" }, finish_reason: "length" }] });
  });

  it("streams word by word, with usage on the finishing chunk only", async () => {
    const events = await chunks(await chat({ stream: true }));
    expect(events.every((e) => e.object === "chat.completion.chunk")).toBe(true);
    expect(events[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    expect(events.map((e) => e.choices[0].delta.content).join("")).toBe("Echo: hello there");
    const last = events.at(-1);
    expect(last).toMatchObject({ choices: [{ index: 0, finish_reason: "stop" }], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } });
    expect(events.slice(0, -1).some((e) => "usage" in e)).toBe(false);
  });

  it("streams a tool call whole, in one delta", async () => {
    const events = await chunks(await chat({ stream: true, messages: [{ role: "user", content: "weather?" }], tools: weatherTool }));
    expect(events.map((e) => e.choices[0].delta)).toContainEqual({
      tool_calls: [{ id: "fakeCall1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' }, index: 0 }],
    });
    expect(events.at(-1).choices[0].finish_reason).toBe("tool_calls");
  });

  it("refuses stream_options and seed as extra inputs", async () => {
    expect(await detail(await chat({ stream: true, stream_options: { include_usage: true } }))).toEqual([
      { type: "extra_forbidden", loc: ["body", "stream_options"], msg: "Extra inputs are not permitted", input: { include_usage: true } },
    ]);
    expect(await detail(await chat({ seed: 1 }))).toEqual([{ type: "extra_forbidden", loc: ["body", "seed"], msg: "Extra inputs are not permitted", input: 1 }]);
  });

  it("takes name on a tool message only", async () => {
    const named = await chat({ messages: [{ role: "user", content: "hi", name: "bob" }] });
    expect(await detail(named)).toEqual([{ type: "extra_forbidden", loc: ["body", "messages", 0, "name"], msg: "Extra inputs are not permitted", input: "bob" }]);
    const conversation = [
      { role: "user", content: "weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "fakeCall1", type: "function", function: { name: "get_weather", arguments: "{}" } }] },
      { role: "tool", content: "sunny", tool_call_id: "fakeCall1", name: "get_weather" },
    ];
    expect((await chat({ messages: conversation, tools: weatherTool })).status).toBe(200);
  });

  it("refuses an assistant message with neither content nor tool calls", async () => {
    const res = await chat({ messages: [...hello, { role: "assistant", content: "" }, { role: "user", content: "again" }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      object: "error",
      message: "Assistant message must have either content or tool_calls, but not none.",
      type: "invalid_request_error",
      param: null,
      code: null,
    });
  });

  it("quotes a tool call id that is an object whose toString is not a function as JSON in its 400", async () => {
    const res = await chat({ messages: [...hello, { role: "tool", content: "sunny", tool_call_id: { toString: 1 } }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ message: 'Tool call id was {"toString":1} but must be a-z, A-Z, 0-9, with a length of 9.' });
  });

  it("takes Mistral's tool_choice values and refuses others", async () => {
    expect((await chat({ tools: weatherTool, tool_choice: "any" })).status).toBe(200);
    expect((await chat({ tools: weatherTool, tool_choice: { type: "function", function: { name: "get_weather" } } })).status).toBe(200);
    expect(await detail(await chat({ tools: weatherTool, tool_choice: "bogus" }))).toMatchObject([{ loc: ["body", "tool_choice"], input: "bogus" }]);
  });

  it("leads a magistral model's answer with its thinking, and counts it", async () => {
    const res = await chat({ model: "magistral-medium-latest" });
    expect(await res.json()).toEqual({
      id: "cmpl-fake-1",
      created: expect.any(Number),
      model: "magistral-medium-latest",
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: [thinking, { type: "text", text: "Echo: hello there" }] }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 },
    });
    const events = await chunks(await chat({ model: "magistral-medium-latest", stream: true }));
    expect(events[1].choices[0].delta).toEqual({ content: [thinking] });
    expect(events.slice(2).map((e) => e.choices[0].delta.content).join("")).toBe("Echo: hello there");
    expect(events.at(-1).usage).toEqual({ prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
  });

  it("embeds, and refuses OpenAI's dimensions", async () => {
    const res = await post("/embeddings", { model: "mistral-embed", input: ["a", "b c"] });
    expect(await res.json()).toEqual({
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: embed("a") },
        { object: "embedding", index: 1, embedding: embed("b c") },
      ],
      model: "mistral-embed",
      usage: { prompt_tokens: 3, total_tokens: 3, completion_tokens: 0 },
    });
    const sized = await post("/embeddings", { model: "mistral-embed", input: "a", dimensions: 4 });
    expect(await detail(sized)).toEqual([{ type: "extra_forbidden", loc: ["body", "dimensions"], msg: "Extra inputs are not permitted", input: 4 }]);
  });

  it("fills in the middle for Codestral, in chat's shapes, whole and streamed, refusing OpenAI's extra fields", async () => {
    const fim = (body: Record<string, unknown>) => post("/fim/completions", { model: "codestral-latest", prompt: "def add(a, b):", suffix: "print(add(1, 2))", ...body });
    const res = await fim({ max_tokens: 20 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      object: "chat.completion",
      model: "codestral-latest",
      choices: [{ index: 0, message: { role: "assistant", content: "Echo: def add(a, b):" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
    });
    const events = await chunks(await fim({ stream: true }));
    expect(events.map((e) => e.choices[0].delta.content).join("")).toBe("Echo: def add(a, b):");
    expect(events.at(-1)).toMatchObject({ usage: { prompt_tokens: 5 } });
    expect(await detail(await fim({ echo: true }))).toEqual([{ type: "extra_forbidden", loc: ["body", "echo"], msg: "Extra inputs are not permitted", input: true }]);
  });

  it("wants the bearer key, and answers unknown paths with 404", async () => {
    const res = await post("/chat/completions", { model: "m", messages: hello }, {});
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ detail: "Unauthorized" });
    const missing = await post("/models/x", {});
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ object: "error", message: "Not Found" });
  });

  it("injects failures with retry-after", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 2 });
    const limited = await chat({});
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect((await chat({})).status).toBe(200);
  });
});
