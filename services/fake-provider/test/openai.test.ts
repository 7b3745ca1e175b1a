import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { countTokens, startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider();
});

afterEach(async () => {
  await provider.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${provider.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function chat(body: Record<string, unknown>): Promise<Response> {
  return post("/v1/chat/completions", { model: "gpt-test", ...body });
}

const hello = [{ role: "user", content: "hello there world" }];

// Response bodies are checked field by field below, so loose typing is enough.
async function json(res: Response): Promise<any> {
  return res.json();
}

/** The `data:` payloads of an SSE body, in order. */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.length > 0)
    .map((event) => {
      expect(event.startsWith("data: ")).toBe(true);
      return event.slice("data: ".length);
    });
}

function sseChunks(text: string): any[] {
  return sseData(text)
    .filter((data) => data !== "[DONE]")
    .map((data) => JSON.parse(data));
}

/** Reads a stream until it ends or breaks, returning what arrived and whether it broke. */
async function readUntilEnd(res: Response): Promise<{ text: string; broken: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, broken: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, broken: true };
  }
}

describe("countTokens", () => {
  it("counts whitespace-separated words, at least 1 for non-empty text", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("   ")).toBe(1);
    expect(countTokens("one")).toBe(1);
    expect(countTokens("  one two\n\tthree  ")).toBe(3);
  });
});

describe("models", () => {
  it("lists the fake model", async () => {
    const res = await fetch(`${provider.url}/v1/models`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      object: "list",
      data: [{ id: "fake-model", object: "model", created: 0, owned_by: "fake" }],
    });
  });
});

describe("chat completions", () => {
  it("echoes the last user message with usage", async () => {
    const res = await chat({
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hello there world" },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(Number(res.headers.get("content-length"))).toBeGreaterThan(0);
    const body = await json(res);
    expect(body).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      object: "chat.completion",
      created: expect.any(Number),
      model: "gpt-test",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "Echo: hello there world", refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      // prompt: (2 + 3) + (3 + 3); completion: "Echo:", "hello", "there", "world"
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
      system_fingerprint: "fp_fake",
    });
  });

  it("joins text parts and accepts the path without /v1", async () => {
    const res = await post("/chat/completions", {
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "look at" },
            { type: "image_url", image_url: { url: "data:," } },
            { type: "text", text: "this" },
          ],
        },
      ],
    });
    const body = await json(res);
    expect(body.choices[0].message.content).toBe("Echo: look at this");
    expect(body.usage.prompt_tokens).toBe(3 + 3);
  });

  it("uses the fixed reply and truncates to max_tokens", async () => {
    provider.behavior.reply = "one two three four five";
    const full = await json(await chat({ messages: hello }));
    expect(full.choices[0].message.content).toBe("one two three four five");
    expect(full.usage.completion_tokens).toBe(5);

    const cut = await json(await chat({ messages: hello, max_tokens: 2 }));
    expect(cut.choices[0].message.content).toBe("one two");
    expect(cut.choices[0].finish_reason).toBe("length");
    expect(cut.usage.completion_tokens).toBe(2);

    const newer = await json(await chat({ messages: hello, max_completion_tokens: 3 }));
    expect(newer.choices[0].message.content).toBe("one two three");

    const roomy = await json(await chat({ messages: hello, max_tokens: 5 }));
    expect(roomy.choices[0].finish_reason).toBe("stop");
  });

  it("refuses max_tokens for reasoning models, as OpenAI does, and takes max_completion_tokens", async () => {
    for (const model of ["o3-mini", "gpt-5"]) {
      const refused = await post("/v1/chat/completions", { model, messages: hello, max_tokens: 2 });
      expect(refused.status).toBe(400);
      expect((await json(refused)).error).toMatchObject({ type: "invalid_request_error", param: "max_tokens", code: "unsupported_parameter" });
      const ok = await json(await post("/v1/chat/completions", { model, messages: hello, max_completion_tokens: 2 }));
      expect(ok.choices[0].finish_reason).toBe("length");
    }
  });

  it("answers n times, counting every answer's tokens, whole or streamed", async () => {
    provider.behavior.reply = "one two three";
    const whole = await json(await chat({ messages: hello, n: 3 }));
    expect(whole.choices.map((choice: any) => [choice.index, choice.message.content])).toEqual([
      [0, "one two three"],
      [1, "one two three"],
      [2, "one two three"],
    ]);
    expect(whole.usage).toMatchObject({ completion_tokens: 9, total_tokens: whole.usage.prompt_tokens + 9 });

    const chunks = sseChunks(await (await chat({ messages: hello, n: 2, stream: true, stream_options: { include_usage: true } })).text());
    const usage = chunks.pop().usage;
    expect(usage.completion_tokens).toBe(6);
    for (const index of [0, 1]) {
      const mine = chunks.filter((chunk) => chunk.choices[0].index === index);
      expect(mine.map((chunk) => chunk.choices[0].delta.content ?? "").join("")).toBe("one two three");
      expect(mine.at(-1).choices[0].finish_reason).toBe("stop");
    }
    expect((await chat({ messages: hello, n: 1_000_000_000 })).status).toBe(400);
  });

  it("gives distinct ids", async () => {
    const first = await json(await chat({ messages: hello }));
    const second = await json(await chat({ messages: hello }));
    expect(first.id).not.toBe(second.id);
  });

  it("rejects missing model or messages and bad JSON with 400", async () => {
    const cases = [
      post("/v1/chat/completions", { messages: hello }),
      post("/v1/chat/completions", { model: "m" }),
      post("/v1/chat/completions", { model: "m", messages: [] }),
      post("/v1/chat/completions", "{not json"),
      post("/v1/chat/completions", "[1, 2]"),
    ];
    for (const res of await Promise.all(cases)) {
      expect(res.status).toBe(400);
      expect((await json(res)).error).toEqual({
        message: expect.any(String),
        type: "invalid_request_error",
        param: null,
        code: null,
      });
    }
  });

  it("answers unknown paths with a 404 OpenAI error", async () => {
    const res = await post("/v1/edits", { model: "m", input: "x" });
    expect(res.status).toBe(404);
    expect((await json(res)).error.type).toBe("invalid_request_error");
  });
});

describe("text completions", () => {
  it("answers a prompt with text, cut to OpenAI's default of 16 tokens", async () => {
    const res = await post("/v1/completions", { model: "m", prompt: "a b c d e f g h i j k l m n o p q r" });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ object: "text_completion", choices: [{ index: 0, finish_reason: "length" }], usage: { prompt_tokens: 18, completion_tokens: 16 } });
    expect(body.choices[0].text).toBe("Echo: a b c d e f g h i j k l m n o");
  });

  it("refuses a body without a prompt", async () => {
    expect((await post("/v1/completions", { model: "m", prompt: [] })).status).toBe(400);
  });
});

describe("streaming", () => {
  it("streams the reply word by word and ends with [DONE]", async () => {
    const res = await chat({ messages: hello, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    expect(sseData(text).at(-1)).toBe("[DONE]");

    const chunks = sseChunks(text);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({
        id: chunks[0].id,
        object: "chat.completion.chunk",
        model: "gpt-test",
        system_fingerprint: "fp_fake",
      });
      expect(chunk).not.toHaveProperty("usage");
    }
    expect(chunks.map((chunk) => chunk.choices[0])).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "Echo: " }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "hello " }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "there " }, logprobs: null, finish_reason: null },
      { index: 0, delta: { content: "world" }, logprobs: null, finish_reason: null },
      { index: 0, delta: {}, logprobs: null, finish_reason: "stop" },
    ]);
  });

  it("sends usage only when asked, with usage: null on earlier chunks", async () => {
    const res = await chat({ messages: hello, stream: true, stream_options: { include_usage: true } });
    const chunks = sseChunks(await res.text());
    const last = chunks.pop();
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
    for (const chunk of chunks) expect(chunk.usage).toBeNull();

    provider.behavior.omitStreamUsage = true;
    const omitted = await chat({ messages: hello, stream: true, stream_options: { include_usage: true } });
    const omittedChunks = sseChunks(await omitted.text());
    expect(omittedChunks.at(-1).choices[0].finish_reason).toBe("stop");
    expect(omittedChunks.some((chunk) => "usage" in chunk)).toBe(false);
  });

  it("concatenates to the non-streamed content, truncation included", async () => {
    provider.behavior.reply = "  spaced\n\nout   reply ";
    const plain = await json(await chat({ messages: hello }));
    const streamed = sseChunks(await (await chat({ messages: hello, stream: true })).text());
    const text = streamed.map((chunk) => chunk.choices[0].delta.content ?? "").join("");
    expect(text).toBe(plain.choices[0].message.content);
    expect(text).toBe("  spaced\n\nout   reply ");

    const cut = sseChunks(await (await chat({ messages: hello, stream: true, max_tokens: 2 })).text());
    expect(cut.map((chunk) => chunk.choices[0].delta.content ?? "").join("")).toBe("  spaced\n\nout");
    expect(cut.at(-1).choices[0].finish_reason).toBe("length");
  });

  it("breaks the socket after the configured number of content chunks", async () => {
    provider.behavior.breakStreamAfterChunks = 2;
    const res = await chat({ messages: hello, stream: true, stream_options: { include_usage: true } });
    const { text, broken } = await readUntilEnd(res);
    expect(broken).toBe(true);
    expect(text).not.toContain("[DONE]");
    const chunks = sseChunks(text);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta)).toEqual([
      { role: "assistant", content: "" },
      { content: "Echo: " },
      { content: "hello " },
    ]);
    await vi.waitFor(() => expect(provider.inFlight).toBe(0));
  });
});

describe("tool calls", () => {
  const tools = [
    { type: "function", function: { name: "get_weather", parameters: { type: "object" } } },
    { type: "function", function: { name: "other" } },
  ];
  const weather = [{ role: "user", content: "What is the weather like?" }];
  const args = '{"location":"Paris"}';

  it("calls the first tool when the user asks about the weather", async () => {
    const body = await json(await chat({ messages: weather, tools }));
    expect(body.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_fake_1", type: "function", function: { name: "get_weather", arguments: args } }],
        refusal: null,
      },
      logprobs: null,
      finish_reason: "tool_calls",
    });
    expect(body.usage.completion_tokens).toBe(countTokens(args));
  });

  it("streams the call with the arguments split in two", async () => {
    const chunks = sseChunks(await (await chat({ messages: weather, tools, stream: true })).text());
    const deltas = chunks.map((chunk) => chunk.choices[0].delta);
    expect(deltas[0]).toEqual({
      role: "assistant",
      content: null,
      tool_calls: [{ index: 0, id: "call_fake_1", type: "function", function: { name: "get_weather", arguments: "" } }],
    });
    const parts = deltas.slice(1, 3).map((delta) => delta.tool_calls[0]);
    expect(parts.every((part) => part.index === 0)).toBe(true);
    expect(parts.map((part) => part.function.arguments).join("")).toBe(args);
    expect(deltas[3]).toEqual({});
    expect(chunks[3].choices[0].finish_reason).toBe("tool_calls");
    expect(chunks).toHaveLength(4);
  });

  it("makes two calls whose streamed pieces interleave, when asked to", async () => {
    provider.behavior.interleavedToolCalls = true;
    const whole = await json(await chat({ messages: weather, tools }));
    expect(whole.choices[0].message.tool_calls.map((call: any) => [call.id, call.function.arguments])).toEqual([
      ["call_fake_1", args],
      ["call_fake_2", args],
    ]);
    const chunks = sseChunks(await (await chat({ messages: weather, tools, stream: true })).text());
    const pieces = chunks.flatMap((chunk) => chunk.choices[0].delta.tool_calls ?? []);
    expect(pieces.map((piece: any) => piece.index)).toEqual([0, 0, 1, 0, 1]);
    expect(pieces[2]).toMatchObject({ id: "call_fake_2", function: { name: "get_weather" } });
    for (const index of [0, 1]) {
      expect(pieces.filter((piece: any) => piece.index === index).map((piece: any) => piece.function.arguments).join("")).toBe(args);
    }
  });

  it("answers with text when the question is not about the weather or tools are absent", async () => {
    const other = await json(await chat({ messages: hello, tools }));
    expect(other.choices[0].message.content).toBe("Echo: hello there world");
    const noTools = await json(await chat({ messages: weather }));
    expect(noTools.choices[0].finish_reason).toBe("stop");
  });
});

describe("embeddings", () => {
  it("returns 8 deterministic floats per input", async () => {
    const res = await post("/v1/embeddings", { model: "embed-test", input: ["alpha beta", "gamma"] });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ object: "list", model: "embed-test", usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(body.data.map((item: { index: number; object: string }) => [item.object, item.index])).toEqual([
      ["embedding", 0],
      ["embedding", 1],
    ]);
    const [first, second] = body.data.map((item: { embedding: number[] }) => item.embedding);
    expect(first).toHaveLength(8);
    expect(first).not.toEqual(second);

    const again = await json(await post("/v1/embeddings", { model: "embed-test", input: "alpha beta" }));
    expect(again.data[0].embedding).toEqual(first);
  });

  it("encodes float32 little-endian bytes as base64 on request", async () => {
    const floats = await json(await post("/v1/embeddings", { model: "e", input: "alpha beta" }));
    const encoded = await json(
      await post("/v1/embeddings", { model: "e", input: "alpha beta", encoding_format: "base64" }),
    );
    const bytes = Buffer.from(encoded.data[0].embedding, "base64");
    expect(bytes).toHaveLength(32);
    const decoded = Array.from({ length: 8 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(floats.data[0].embedding);
  });

  it("rejects bad input with 400", async () => {
    for (const body of [{ input: "x" }, { model: "e" }, { model: "e", input: [] }, { model: "e", input: [1, 2] }]) {
      expect((await post("/v1/embeddings", body)).status).toBe(400);
    }
  });
});

describe("moderations", () => {
  it("flags each text that says kill for violence, one result per string, under OpenAI's default model when none is named", async () => {
    const res = await post("/v1/moderations", { input: ["I will kill the process", "a sunny day"] });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ id: expect.stringMatching(/^modr-/), model: "omni-moderation-latest" });
    expect(body.results.map((r: { flagged: boolean }) => r.flagged)).toEqual([true, false]);
    expect(body.results[0].categories).toMatchObject({ violence: true, hate: false });
    expect(body.results[0].category_scores.violence).toBeGreaterThan(0.5);
    expect(Object.values(body.results[1].categories)).not.toContain(true);
  });

  it("judges a list of text and image parts as one input, and names the model asked for", async () => {
    const input = [
      { type: "text", text: "Kill it" },
      { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
    ];
    const body = await json(await post("/moderations", { model: "omni-moderation-2024-09-26", input }));
    expect(body.model).toBe("omni-moderation-2024-09-26");
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({ flagged: true, category_applied_input_types: { violence: ["text", "image"] } });
  });

  it("rejects a missing or empty input, and takes the key and failures as every route does", async () => {
    for (const body of [{}, { input: "" }, { input: [] }, { input: [1] }]) {
      const res = await post("/v1/moderations", body);
      expect(res.status).toBe(400);
      expect((await json(res)).error.param).toBe("input");
    }
    provider.behavior.requireApiKey = "sk-fake";
    expect((await post("/v1/moderations", { input: "x" })).status).toBe(401);
    provider.behavior.failNext = 1;
    expect((await post("/v1/moderations", { input: "x" }, { authorization: "Bearer sk-fake" })).status).toBe(500);
    expect((await post("/v1/moderations", { input: "x" }, { authorization: "Bearer sk-fake" })).status).toBe(200);
  });
});

describe("rerank", () => {
  it("ranks documents by the query's words they hold, and refuses a document that is neither a string nor an object", async () => {
    const res = await post("/v1/rerank", { model: "r", query: "capital of France", documents: ["Bananas", { text: "Paris is the capital of France" }] });
    expect(await json(res)).toMatchObject({ results: [{ index: 1, relevance_score: 1 }, { index: 0, relevance_score: 0 }] });
    for (const document of [null, 5, ["a"]]) {
      const refused = await post("/v1/rerank", { model: "r", query: "q", documents: ["a", document] });
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({ error: { type: "invalid_request_error", param: "documents" } });
    }
  });
});

describe("failures", () => {
  it("fails the next N requests with the configured status", async () => {
    provider.behavior.failNext = 2;
    const first = await chat({ messages: hello });
    expect(first.status).toBe(500);
    expect(first.headers.get("retry-after")).toBeNull();
    expect(await json(first)).toEqual({
      error: { message: expect.any(String), type: "server_error", param: null, code: null },
    });
    expect(provider.behavior.failNext).toBe(1);
    expect((await post("/v1/embeddings", { model: "e", input: "x" })).status).toBe(500);
    expect(provider.behavior.failNext).toBe(0);
    expect((await chat({ messages: hello })).status).toBe(200);
  });

  it("sends rate-limit errors with retry-after", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const res = await chat({ messages: hello, stream: true });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect((await json(res)).error).toMatchObject({ type: "rate_limit_error", code: "rate_limit_exceeded" });
  });

  it("maps 400 to invalid_request_error and leaves /models alone", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 400 });
    expect((await fetch(`${provider.url}/v1/models`)).status).toBe(200);
    const res = await chat({ messages: hello });
    expect(res.status).toBe(400);
    expect((await json(res)).error.type).toBe("invalid_request_error");
  });

  it("requires the API key when configured", async () => {
    provider.behavior.requireApiKey = "sk-fake";
    const missing = await chat({ messages: hello });
    expect(missing.status).toBe(401);
    expect((await json(missing)).error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    const wrong = await post("/v1/chat/completions", { model: "m", messages: hello }, { authorization: "Bearer no" });
    expect(wrong.status).toBe(401);
    const right = await post("/v1/chat/completions", { model: "m", messages: hello }, { authorization: "Bearer sk-fake" });
    expect(right.status).toBe(200);
  });
});

describe("recording and timing", () => {
  it("records every request in order", async () => {
    await post("/v1/chat/completions?trace=1", { model: "m", messages: hello }, { "X-Trace-Id": "abc" });
    await fetch(`${provider.url}/v1/models`);
    await post("/v1/embeddings", "{oops");
    expect(provider.requests).toHaveLength(3);
    expect(provider.requests[0]).toMatchObject({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { "x-trace-id": "abc", "content-type": "application/json" },
      body: { model: "m", messages: hello },
    });
    expect(provider.requests[1]).toMatchObject({ method: "GET", path: "/v1/models", body: undefined });
    expect(provider.requests[2]).toMatchObject({ method: "POST", path: "/v1/embeddings", body: undefined });
  });

  it("keeps no requests when started with record: false, and still answers", async () => {
    const quiet = await startFakeProvider({ record: false });
    try {
      const res = await fetch(`${quiet.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: hello }),
      });
      expect(res.status).toBe(200);
      expect(quiet.requests).toEqual([]);
    } finally {
      await quiet.close();
    }
  });

  it("holds a delayed request while a later undelayed one completes", async () => {
    provider.behavior.latencyMs = 300;
    let slowDone = false;
    const slow = chat({ messages: hello }).then((res) => {
      slowDone = true;
      return res;
    });
    await vi.waitFor(() => expect(provider.requests).toHaveLength(1));
    expect(provider.inFlight).toBe(1);

    provider.behavior.latencyMs = 0;
    expect((await chat({ messages: hello })).status).toBe(200);
    expect(slowDone).toBe(false);
    expect((await slow).status).toBe(200);
    await vi.waitFor(() => expect(provider.inFlight).toBe(0));
  });

  it("keeps a stream open between delayed chunks and frees it when the client cancels", async () => {
    provider.behavior.chunkDelayMs = 60_000;
    const res = await chat({ messages: hello, stream: true });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(sseChunks(first)).toHaveLength(1);
    expect(provider.inFlight).toBe(1);
    await reader.cancel();
    await vi.waitFor(() => expect(provider.inFlight).toBe(0));
  });

  it("closes promptly with keep-alive and streaming sockets open", async () => {
    await chat({ messages: hello }).then((res) => res.text());
    provider.behavior.chunkDelayMs = 60_000;
    const res = await chat({ messages: hello, stream: true });
    const reading = readUntilEnd(res);
    await provider.close();
    expect((await reading).broken).toBe(true);
    await expect(fetch(`${provider.url}/v1/models`)).rejects.toThrow();
  });

  it("applies behaviour given at start", async () => {
    const other = await startFakeProvider({ behavior: { reply: "fixed", failStatus: 503 } });
    try {
      expect(other.url).toBe(`http://127.0.0.1:${other.port}`);
      expect(other.behavior).toMatchObject({ reply: "fixed", failStatus: 503, latencyMs: 0, failNext: 0 });
      const res = await fetch(`${other.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({ model: "m", messages: hello }),
      });
      expect((await json(res)).choices[0].message.content).toBe("fixed");
    } finally {
      await other.close();
    }
  });
});
