import { describe, expect, it } from "vitest";
import type { Json } from "../src/providers/provider.js";
import { DEFAULT_MAX_TOKENS, toAnthropicRequest } from "../src/translate/anthropic-request.js";
import { chunksFromAnthropic, fromAnthropicMessage } from "../src/translate/anthropic-response.js";

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* events(...list: Json[]): AsyncGenerator<{ json: Json }> {
  for (const json of list) yield { json };
}

describe("OpenAI chat request to Anthropic Messages", () => {
  it("lifts system and developer messages into system, and defaults max_tokens", () => {
    const request = toAnthropicRequest(
      {
        messages: [
          { role: "system", content: "one" },
          { role: "developer", content: [{ type: "text", text: "two", cache_control: { type: "ephemeral" } }] },
          { role: "user", content: "hi" },
        ],
      },
      "claude-x",
      false,
    );
    expect(request).toEqual({
      model: "claude-x",
      max_tokens: DEFAULT_MAX_TOKENS,
      system: [
        { type: "text", text: "one" },
        { type: "text", text: "two", cache_control: { type: "ephemeral" } },
      ],
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
    });
  });

  it("joins parallel tool results into one user turn after the assistant's tool_use blocks", () => {
    const request = toAnthropicRequest(
      {
        messages: [
          { role: "user", content: "weather in Paris and Rome?" },
          {
            role: "assistant",
            content: "Checking.",
            tool_calls: [
              { id: "a", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } },
              { id: "b", type: "function", function: { name: "w", arguments: '{"city":"Rome"}' } },
            ],
          },
          { role: "tool", tool_call_id: "a", content: "sunny" },
          { role: "tool", tool_call_id: "b", content: [{ type: "text", text: "rain" }] },
          { role: "user", content: "thanks", cache_control: { type: "ephemeral" } },
        ],
      },
      "m",
      false,
    );
    expect(request["messages"]).toEqual([
      { role: "user", content: [{ type: "text", text: "weather in Paris and Rome?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "a", name: "w", input: { city: "Paris" } },
          { type: "tool_use", id: "b", name: "w", input: { city: "Rome" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "a", content: "sunny" },
          { type: "tool_result", tool_use_id: "b", content: [{ type: "text", text: "rain" }] },
          { type: "text", text: "thanks", cache_control: { type: "ephemeral" } },
        ],
      },
    ]);
  });

  it("maps tool_choice, parallel_tool_calls, stop, user and sampling", () => {
    const tools = [{ type: "function", function: { name: "f" } }];
    const base = { messages: [{ role: "user", content: "x" }], tools };
    expect(toAnthropicRequest({ ...base, tool_choice: "required" }, "m", false)["tool_choice"]).toEqual({ type: "any" });
    expect(toAnthropicRequest({ ...base, tool_choice: "none" }, "m", false)["tool_choice"]).toEqual({ type: "none" });
    expect(toAnthropicRequest({ ...base, parallel_tool_calls: false }, "m", false)["tool_choice"]).toEqual({ type: "auto", disable_parallel_tool_use: true });
    const request = toAnthropicRequest({ ...base, stop: "END", user: "u-1", top_p: 0.9, top_k: 5, max_completion_tokens: 77 }, "m", true);
    expect(request).toMatchObject({
      tools: [{ name: "f", input_schema: { type: "object", properties: {} } }],
      stop_sequences: ["END"],
      metadata: { user_id: "u-1" },
      top_p: 0.9,
      top_k: 5,
      max_tokens: 77,
      stream: true,
    });
  });

  it("passes the client's own thinking on with room past its budget, and thinking blocks back first in their turn", () => {
    const request = toAnthropicRequest(
      {
        thinking: { type: "enabled", budget_tokens: 2000 },
        messages: [
          { role: "user", content: "hi" },
          {
            role: "assistant",
            content: "Let me check.",
            thinking_blocks: [
              { type: "redacted_thinking", data: "opaque" },
              { type: "thinking", thinking: "hmm", signature: "sig" },
            ],
            tool_calls: [{ id: "t1", type: "function", function: { name: "w", arguments: "{}" } }],
          },
        ],
      },
      "claude-x",
      false,
    );
    expect(request["thinking"]).toEqual({ type: "enabled", budget_tokens: 2000 });
    expect(request["max_tokens"]).toBe(2000 + DEFAULT_MAX_TOKENS);
    expect((request["messages"] as Json[])[1]!["content"]).toEqual([
      { type: "redacted_thinking", data: "opaque" },
      { type: "thinking", thinking: "hmm", signature: "sig" },
      { type: "text", text: "Let me check." },
      { type: "tool_use", id: "t1", name: "w", input: {} },
    ]);
  });

  it("asks each Claude generation for thinking its own way: a budget up to 4.5, an effort from 4.6 on (xhigh from 4.7)", () => {
    const thinking = (providerModel: string, reasoning_effort: string) => {
      const request = toAnthropicRequest({ reasoning_effort, messages: [{ role: "user", content: "hi" }] }, providerModel, false);
      return { thinking: request["thinking"], output_config: request["output_config"] };
    };
    expect(thinking("claude-sonnet-4-5-20250929", "high")).toEqual({ thinking: { type: "enabled", budget_tokens: 4096 }, output_config: undefined });
    expect(thinking("claude-opus-4-20250514", "low")).toEqual({ thinking: { type: "enabled", budget_tokens: 1024 }, output_config: undefined });
    expect(thinking("claude-haiku-4-5", "medium")).toEqual({ thinking: { type: "enabled", budget_tokens: 2048 }, output_config: undefined });
    expect(thinking("claude-opus-4-6", "xhigh")).toEqual({ thinking: { type: "adaptive" }, output_config: { effort: "high" } });
    expect(thinking("claude-opus-4-7", "xhigh")).toEqual({ thinking: { type: "adaptive" }, output_config: { effort: "xhigh" } });
    expect(thinking("claude-sonnet-5", "minimal")).toEqual({ thinking: { type: "adaptive" }, output_config: { effort: "low" } });
    expect(thinking("claude-opus-4-7", "none")).toEqual({ thinking: undefined, output_config: undefined });
  });

  it("refuses what Anthropic cannot take, as a 400", () => {
    const audio = { messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] };
    expect(() => toAnthropicRequest(audio, "m", false)).toThrow(/input_audio/);
    const badArgs = { messages: [{ role: "assistant", tool_calls: [{ id: "a", function: { name: "f", arguments: "{nope" } }] }] };
    expect(() => toAnthropicRequest(badArgs, "m", false)).toThrow(/arguments/);
    // JSON can make an object whose toString is not a function; String() of it threw a TypeError, a 500.
    const junk = JSON.parse('{"toString":1}') as Json;
    expect(() => toAnthropicRequest({ messages: [{ role: "user", content: [{ type: junk }] }] }, "m", false)).toThrow('"{"toString":1}"');
    expect(() => toAnthropicRequest({ messages: [{ role: junk, content: "hi" }] }, "m", false)).toThrow('"{"toString":1}"');
  });
});

describe("Anthropic message to OpenAI completion", () => {
  it("carries text, thinking, tool calls, the finish reason and cache usage", () => {
    const { response, usage } = fromAnthropicMessage({
      id: "msg_1",
      model: "claude-x",
      content: [
        { type: "thinking", thinking: "hmm" },
        { type: "text", text: "Let me check." },
        { type: "tool_use", id: "toolu_1", name: "w", input: { city: "Paris" } },
      ],
      stop_reason: "tool_use",
      usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 20, cache_creation_input_tokens: 3 },
    });
    expect(usage).toEqual({ promptTokens: 33, completionTokens: 5, cachedTokens: 20, cacheWriteTokens: 3, cacheWrite1hTokens: 0 });
    expect(response).toMatchObject({
      id: "msg_1",
      object: "chat.completion",
      model: "claude-x",
      choices: [
        {
          message: {
            role: "assistant",
            content: "Let me check.",
            reasoning_content: "hmm",
            tool_calls: [{ id: "toolu_1", type: "function", function: { name: "w", arguments: '{"city":"Paris"}' } }],
          },
          finish_reason: "tool_calls",
        },
      ],
      usage: { prompt_tokens: 33, completion_tokens: 5, total_tokens: 38, prompt_tokens_details: { cached_tokens: 20 }, cache_creation_input_tokens: 3 },
    });
  });

  it("keeps thinking blocks, redacted ones too, for the client to send back", () => {
    const { response } = fromAnthropicMessage({
      content: [
        { type: "redacted_thinking", data: "opaque" },
        { type: "thinking", thinking: "hmm", signature: "sig" },
        { type: "text", text: "Hi." },
      ],
      stop_reason: "end_turn",
    });
    expect((response["choices"] as Json[])[0]!["message"]).toEqual({
      role: "assistant",
      content: "Hi.",
      reasoning_content: "hmm",
      thinking_blocks: [
        { type: "redacted_thinking", data: "opaque" },
        { type: "thinking", thinking: "hmm", signature: "sig" },
      ],
    });
  });

  it("maps every stop reason", () => {
    const finish = (stop_reason: string) =>
      (fromAnthropicMessage({ content: [], stop_reason }).response["choices"] as { finish_reason: string }[])[0]!.finish_reason;
    expect(["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal"].map(finish)).toEqual(["stop", "stop", "length", "tool_calls", "content_filter"]);
  });
});

describe("Anthropic stream to OpenAI chunks", () => {
  it("numbers tool calls by their order, not their block index, and closes with merged usage", async () => {
    const chunks = (
      await collect(
        chunksFromAnthropic(
          events(
            { type: "message_start", message: { id: "msg_1", model: "claude-x", usage: { input_tokens: 7, output_tokens: 1, cache_read_input_tokens: 2 } } },
            { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
            { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } },
            { type: "content_block_stop", index: 0 },
            { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "t1", name: "a", input: {} } },
            { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"x":' } },
            { type: "content_block_start", index: 2, content_block: { type: "tool_use", id: "t2", name: "b", input: {} } },
            { type: "content_block_delta", index: 2, delta: { type: "input_json_delta", partial_json: "{}" } },
            { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "1}" } },
            { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 12, input_tokens: 9 } },
            { type: "message_stop" },
          ),
        ),
      )
    ).map((c) => c.json);
    const deltas = chunks.map((c) => (c["choices"] as { delta: Json }[])[0]?.delta);
    expect(deltas.slice(0, 2)).toEqual([{ role: "assistant", content: "" }, { content: "Hi" }]);
    expect(deltas.slice(2, 6).map((d) => (d?.["tool_calls"] as Json[])[0])).toEqual([
      { index: 0, id: "t1", type: "function", function: { name: "a", arguments: "" } },
      { index: 0, function: { arguments: '{"x":' } },
      { index: 1, id: "t2", type: "function", function: { name: "b", arguments: "" } },
      { index: 1, function: { arguments: "{}" } },
    ]);
    expect((deltas[6]?.["tool_calls"] as Json[])[0]).toEqual({ index: 0, function: { arguments: "1}" } });
    expect((chunks[7]!["choices"] as Json[])[0]).toMatchObject({ finish_reason: "tool_calls" });
    expect(chunks.at(-1)).toMatchObject({ id: "msg_1", model: "claude-x", choices: [], usage: { prompt_tokens: 11, completion_tokens: 12, prompt_tokens_details: { cached_tokens: 2 } } });
  });
});

describe("JSON output on Claude (response_format as a forced tool)", () => {
  const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false };
  const ask = { messages: [{ role: "user", content: "Where?" }] };
  const asJsonSchema = { ...ask, response_format: { type: "json_schema", json_schema: { name: "place", schema, strict: true } } };

  it("offers one tool with the schema asked for, and makes the model call it", () => {
    const request = toAnthropicRequest(asJsonSchema, "m", false);
    expect(request["tools"]).toEqual([{ name: "json_tool_call", description: "Give the answer as this tool's input.", input_schema: schema }]);
    expect(request["tool_choice"]).toEqual({ type: "tool", name: "json_tool_call" });
    expect(request).not.toHaveProperty("response_format");
    const object = toAnthropicRequest({ ...ask, response_format: { type: "json_object" } }, "m", false);
    expect(object["tools"]).toEqual([expect.objectContaining({ name: "json_tool_call", input_schema: { type: "object" } })]);
    expect(toAnthropicRequest({ ...ask, response_format: { type: "text" } }, "m", false)).not.toHaveProperty("tools");
  });

  it("offers the tool without forcing it while the model thinks, as Claude refuses a forced tool then", () => {
    const request = toAnthropicRequest({ ...asJsonSchema, reasoning_effort: "low" }, "claude-3-7-sonnet", false);
    expect(request["thinking"]).toMatchObject({ type: "enabled" });
    expect(request["tool_choice"]).toEqual({ type: "auto" });
  });

  it("refuses it beside the request's own tools, naming response_format, and drops it under drop_params", () => {
    const withTools = { ...asJsonSchema, tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }] };
    expect(() => toAnthropicRequest(withTools, "m", false)).toThrow(/response_format.*drop_params/);
    const dropped = toAnthropicRequest(withTools, "m", false, true);
    expect((dropped["tools"] as Json[]).map((tool) => tool["name"])).toEqual(["get_weather"]);
    expect(dropped).not.toHaveProperty("tool_choice");
    expect(() => toAnthropicRequest({ ...ask, response_format: { type: "xml" } }, "m", false)).toThrow(/response_format/);
  });

  it("gives the tool's input back as the message's content, ending with stop", () => {
    const message = { content: [{ type: "tool_use", id: "toolu_1", name: "json_tool_call", input: { city: "Paris" } }], stop_reason: "tool_use" };
    const choice = (fromAnthropicMessage(message, true).response["choices"] as Json[])[0]!;
    expect(choice).toMatchObject({ message: { role: "assistant", content: '{"city":"Paris"}' }, finish_reason: "stop" });
    expect(choice["message"]).not.toHaveProperty("tool_calls");
    // A request that asked for no JSON sees a tool of that name as a tool call.
    expect((fromAnthropicMessage(message).response["choices"] as Json[])[0]).toMatchObject({ finish_reason: "tool_calls", message: { content: null } });
  });

  it("streams the tool's input as content, ending with stop", async () => {
    const stream = (...input: string[]) =>
      events(
        { type: "message_start", message: { id: "msg_1", model: "claude-x", usage: { input_tokens: 7, output_tokens: 1 } } },
        { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "t1", name: "json_tool_call", input: {} } },
        ...input.map((partial_json) => ({ type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json } })),
        { type: "content_block_stop", index: 0 },
        { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 5 } },
        { type: "message_stop" },
      );
    const deltas = async (...input: string[]) =>
      (await collect(chunksFromAnthropic(stream(...input), true))).map((c) => (c.json["choices"] as Json[])[0]).filter((choice) => choice !== undefined);
    const choices = await deltas('{"city":', '"Paris"}');
    expect(choices.map((choice) => choice["delta"])).toEqual([{ role: "assistant", content: "" }, { content: '{"city":' }, { content: '"Paris"}' }, {}]);
    expect(choices.map((choice) => choice["finish_reason"])).toEqual([null, null, null, "stop"]);
    // An input that streams as nothing is the empty object.
    expect((await deltas("")).map((choice) => choice["delta"])).toEqual([{ role: "assistant", content: "" }, { content: "{}" }, {}]);
  });
});
