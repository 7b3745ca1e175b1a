import { describe, expect, it } from "vitest";
import type { Json, Usage } from "../src/providers/provider.js";
import { toAnthropicRequest } from "../src/translate/anthropic-request.js";
import { toChatRequest } from "../src/translate/messages-request.js";
import { eventsFromChunks, toAnthropicMessage } from "../src/translate/messages-response.js";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* chunks(...list: Json[]): AsyncGenerator<{ json: Json }> {
  for (const json of list) yield { json };
}

const chunk = (delta: Json, finish_reason: string | null = null): Json => ({ id: "c1", model: "gpt-x", choices: [{ index: 0, delta, finish_reason }] });
const usage: Usage = { promptTokens: 30, completionTokens: 7, cachedTokens: 10, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };

describe("Anthropic Messages request to OpenAI chat", () => {
  const conversation: Json = {
    model: "any",
    max_tokens: 300,
    system: [{ type: "text", text: "Be brief." }],
    messages: [
      { role: "user", content: "weather?" },
      { role: "assistant", content: [{ type: "text", text: "Checking." }, { type: "tool_use", id: "t1", name: "w", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "sunny" }] }, { type: "text", text: "and tomorrow?" }] },
    ],
    tools: [{ name: "w", input_schema: { type: "object", properties: { city: { type: "string" } } } }],
    tool_choice: { type: "tool", name: "w", disable_parallel_tool_use: true },
    stop_sequences: ["END"],
    metadata: { user_id: "u-7" },
  };

  it("puts tool results in tool messages ahead of the user's text, and maps the rest", () => {
    expect(toChatRequest(conversation, false, "openai")).toEqual({
      model: "any",
      max_tokens: 300,
      stop: ["END"],
      user: "u-7",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "weather?" },
        { role: "assistant", content: "Checking.", tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } }] },
        { role: "tool", tool_call_id: "t1", content: "sunny" },
        { role: "user", content: "and tomorrow?" },
      ],
      tools: [{ type: "function", function: { name: "w", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
      tool_choice: { type: "function", function: { name: "w" } },
      parallel_tool_calls: false,
    });
  });

  it("keeps several text blocks apart, as text parts, in every role", () => {
    const blocks = (...texts: string[]) => texts.map((text) => ({ type: "text", text }));
    const parts = (...texts: string[]) => texts.map((text) => ({ type: "text", text }));
    const chat = toChatRequest(
      {
        model: "any",
        system: blocks("You are terse.", "Answer in French."),
        messages: [
          { role: "user", content: blocks("a b c d", "e f") },
          { role: "assistant", content: [...blocks("First.", "Second."), { type: "tool_use", id: "t1", name: "w", input: {} }] },
          { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", is_error: true, content: blocks("a", "b") }] },
        ],
      },
      false,
      "openai",
    );
    expect(chat["messages"]).toEqual([
      { role: "system", content: parts("You are terse.", "Answer in French.") },
      { role: "user", content: parts("a b c d", "e f") },
      { role: "assistant", content: parts("First.", "Second."), tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: "{}" } }] },
      { role: "tool", tool_call_id: "t1", content: parts("Error: a", "b") },
    ]);
  });

  it("limits OpenAI's reasoning models by max_completion_tokens, and other OpenAI-speaking models by max_tokens", () => {
    const limit = (provider: string, model: string) => {
      const chat = toChatRequest(conversation, false, provider, model);
      return { max_tokens: chat["max_tokens"], max_completion_tokens: chat["max_completion_tokens"] };
    };
    expect(limit("openai", "o3-mini")).toEqual({ max_tokens: undefined, max_completion_tokens: 300 });
    expect(limit("azure", "gpt-5.1")).toEqual({ max_tokens: undefined, max_completion_tokens: 300 });
    expect(limit("openai", "llama3.1")).toEqual({ max_tokens: 300, max_completion_tokens: undefined });
    expect(limit("openai", "gpt-4o-mini")).toEqual({ max_tokens: 300, max_completion_tokens: undefined });
  });

  it("survives the trip on to an Anthropic deployment: the same turns come out", () => {
    const back = toAnthropicRequest(toChatRequest(conversation, false, "anthropic"), "claude-x", false);
    expect(back["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "weather?" }] },
      { role: "assistant", content: [{ type: "text", text: "Checking." }, { type: "tool_use", id: "t1", name: "w", input: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "sunny" }, { type: "text", text: "and tomorrow?" }] },
    ]);
    expect(back).toMatchObject({ system: [{ type: "text", text: "Be brief." }], stop_sequences: ["END"], tool_choice: { type: "tool", name: "w", disable_parallel_tool_use: true } });
  });

  it("refuses parameters and tools OpenAI lacks unless drop_params, and lets defaults through", () => {
    const thinking = { model: "m", max_tokens: 5, messages: [{ role: "user", content: "x" }], thinking: { type: "enabled", budget_tokens: 1024 } };
    expect(() => toChatRequest(thinking, false, "openai")).toThrow(/"thinking"/);
    expect(toChatRequest(thinking, true, "openai")).not.toHaveProperty("thinking");
    expect(() => toChatRequest({ ...thinking, thinking: { type: "disabled" } }, false, "openai")).not.toThrow();
    const serverTool = { model: "m", messages: [{ role: "user", content: "x" }], tools: [{ type: "web_search_20250305", name: "web_search" }] };
    expect(() => toChatRequest(serverTool, true, "openai")).toThrow(/web_search_20250305/);
  });

  it("quotes a type or role that is an object as JSON when it refuses it", () => {
    // JSON can make an object whose toString is not a function; String() of it threw a TypeError, a 500.
    const junk = JSON.parse('{"toString":1}') as Json;
    const body = (message: Json) => ({ model: "m", max_tokens: 5, messages: [message] });
    expect(() => toChatRequest(body({ role: "user", content: [{ type: junk }] }), false, "openai")).toThrow('"{"toString":1}"');
    expect(() => toChatRequest(body({ role: junk, content: "hi" }), false, "openai")).toThrow('"{"toString":1}"');
    expect(() => toChatRequest({ ...body({ role: "user", content: "hi" }), tools: [{ type: junk, name: "t" }] }, false, "openai")).toThrow('{"toString":1}');
    const image = toChatRequest(body({ role: "user", content: [{ type: "image", source: { type: "base64", media_type: junk, data: "eA==" } }] }), false, "openai");
    expect(image["messages"]).toEqual([{ role: "user", content: [{ type: "image_url", image_url: { url: 'data:{"toString":1};base64,eA==' } }] }]);
  });

  it("marks failed tool results and turns images and documents into parts", () => {
    const request = toChatRequest(
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "t", is_error: true, content: "boom" },
              { type: "image", source: { type: "url", url: "https://x/cat.png" } },
              { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } },
            ],
          },
        ],
      },
      false,
      "openai",
    );
    expect(request["messages"]).toEqual([
      { role: "tool", tool_call_id: "t", content: "Error: boom" },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "https://x/cat.png" } },
          { type: "file", file: { file_data: "data:application/pdf;base64,JVBE" } },
        ],
      },
    ]);
  });

  it("sends plain-text documents as text parts, headed by their titles", () => {
    const doc = (title?: string) => ({ type: "document", source: { type: "text", media_type: "text/plain", data: "The text." }, ...(title && { title }) });
    const request = toChatRequest(
      { model: "m", messages: [{ role: "user", content: [doc("Notes"), doc(), { type: "text", text: "Sum up." }] }] },
      false,
      "gemini",
      "gemini-2.5-flash",
    );
    expect(request["messages"]).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Notes\n\nThe text." },
          { type: "text", text: "The text." },
          { type: "text", text: "Sum up." },
        ],
      },
    ]);
  });

  it("moves a tool result's images to the user message after the tool messages, as a tool message holds text only", () => {
    const screenshot = (data: string) => ({ type: "image", source: { type: "base64", media_type: "image/png", data } });
    const request = toChatRequest(
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "shot", content: [{ type: "text", text: "here" }, screenshot("AAA")] },
              { type: "tool_result", tool_use_id: "only-image", content: [screenshot("BBB")] },
              { type: "text", text: "what changed?" },
            ],
          },
        ],
      },
      false,
      "openai",
    );
    expect(request["messages"]).toEqual([
      { role: "tool", tool_call_id: "shot", content: "here" },
      { role: "tool", tool_call_id: "only-image", content: "" },
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/png;base64,AAA" } },
          { type: "image_url", image_url: { url: "data:image/png;base64,BBB" } },
          { type: "text", text: "what changed?" },
        ],
      },
    ]);
  });
});

describe("OpenAI completion to Anthropic message", () => {
  it("maps content, tool calls, stop reason and usage (cache reads apart from input)", () => {
    const message = toAnthropicMessage(
      {
        id: "c1",
        model: "gpt-x",
        choices: [{ message: { content: "Sure.", tool_calls: [{ id: "call_1", function: { name: "w", arguments: '{"a":1}' } }] }, finish_reason: "length" }],
      },
      usage,
    );
    expect(message).toEqual({
      id: "c1",
      type: "message",
      role: "assistant",
      model: "gpt-x",
      content: [
        { type: "text", text: "Sure." },
        { type: "tool_use", id: "call_1", name: "w", input: { a: 1 } },
      ],
      stop_reason: "max_tokens",
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 7, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 },
    });
  });
});

describe("OpenAI chunks to Anthropic events", () => {
  it("opens and closes one block per text run and per tool call, and ends with the final usage", async () => {
    const events = await collect(
      eventsFromChunks(
        chunks(
          chunk({ role: "assistant", content: "" }),
          chunk({ content: "Hel" }),
          chunk({ content: "lo" }),
          chunk({ tool_calls: [{ index: 0, id: "a", function: { name: "f", arguments: "" } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: "{}" } }] }),
          chunk({ tool_calls: [{ index: 1, id: "b", function: { name: "g", arguments: '{"x":1}' } }] }),
          chunk({}, "tool_calls"),
        ),
        () => usage,
      ),
    );
    expect(events.map((e) => e.name)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "content_block_start",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events[0]!.json).toMatchObject({ message: { id: "c1", model: "gpt-x", role: "assistant", content: [] } });
    expect(events[5]!.json).toEqual({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "a", name: "f", input: {} } });
    expect(events[9]!.json).toEqual({ type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: '{"x":1}' } });
    expect(events[11]!.json).toEqual({
      type: "message_delta",
      delta: { stop_reason: "tool_use", stop_sequence: null },
      usage: { input_tokens: 20, output_tokens: 7, cache_read_input_tokens: 10, cache_creation_input_tokens: 0 },
    });
  });

  it("starts the message after Azure's opening chunk of filter results, with the id and model of the answer", async () => {
    const filterResults = { id: "", model: "", object: "", created: 0, choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] };
    const events = await collect(eventsFromChunks(chunks(filterResults, chunk({ content: "Hi" }, "stop")), () => usage));
    expect(events.map((e) => e.name)).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(events[0]!.json).toMatchObject({ message: { id: "c1", model: "gpt-x" } });
  });

  it("opens a block per tool call when a server numbers every call 0 (Ollama), telling them apart by id", async () => {
    const call = (id: string | undefined, name: string | undefined, args: string) => ({ index: 0, ...(id && { id }), function: { ...(name && { name }), arguments: args } });
    const events = await collect(
      eventsFromChunks(chunks(chunk({ tool_calls: [call("a", "f", '{"x"')] }), chunk({ tool_calls: [call(undefined, undefined, ":1}")] }), chunk({ tool_calls: [call("b", "g", "{}")] }, "tool_calls")), () => usage),
    );
    const starts = events.filter((e) => e.name === "content_block_start").map((e) => e.json["content_block"]);
    expect(starts).toEqual([
      { type: "tool_use", id: "a", name: "f", input: {} },
      { type: "tool_use", id: "b", name: "g", input: {} },
    ]);
    const deltas = events.filter((e) => e.name === "content_block_delta").map((e) => [e.json["index"], (e.json["delta"] as Json)["partial_json"]]);
    expect(deltas).toEqual([
      [0, '{"x"'],
      [0, ":1}"],
      [1, "{}"],
    ]);
  });

  it("never reopens a tool call's block when a server interleaves the calls' pieces: later calls and text come whole at the end", async () => {
    const piece = (index: number, args: string, id?: string) => ({ index, ...(id && { id, type: "function" }), function: { ...(id && { name: "f" }), arguments: args } });
    const events = await collect(
      eventsFromChunks(
        chunks(
          chunk({ tool_calls: [piece(0, '{"a"', "c0")] }),
          chunk({ tool_calls: [piece(1, '{"b"', "c1")] }),
          chunk({ tool_calls: [piece(0, ":1}")] }),
          chunk({ content: "then" }),
          chunk({ tool_calls: [piece(1, ":2}")] }),
          chunk({ content: " text" }, "tool_calls"),
        ),
        () => usage,
      ),
    );
    const blocks = events.filter((e) => e.name.startsWith("content_block")).map((e) => [e.name, e.json["index"], e.json["content_block"] ?? e.json["delta"]]);
    expect(blocks).toEqual([
      ["content_block_start", 0, { type: "tool_use", id: "c0", name: "f", input: {} }],
      ["content_block_delta", 0, { type: "input_json_delta", partial_json: '{"a"' }],
      ["content_block_delta", 0, { type: "input_json_delta", partial_json: ":1}" }],
      ["content_block_stop", 0, undefined],
      ["content_block_start", 1, { type: "tool_use", id: "c1", name: "f", input: {} }],
      ["content_block_delta", 1, { type: "input_json_delta", partial_json: '{"b":2}' }],
      ["content_block_stop", 1, undefined],
      ["content_block_start", 2, { type: "text", text: "" }],
      ["content_block_delta", 2, { type: "text_delta", text: "then text" }],
      ["content_block_stop", 2, undefined],
    ]);
    expect(events.at(-2)!.json).toMatchObject({ delta: { stop_reason: "tool_use" } });
  });

  it("still frames a complete message when the chunks carry nothing", async () => {
    const events = await collect(eventsFromChunks(chunks(), () => undefined));
    expect(events.map((e) => e.name)).toEqual(["message_start", "message_delta", "message_stop"]);
  });
});
