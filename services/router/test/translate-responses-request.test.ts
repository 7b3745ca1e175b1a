import { describeError, type ErrorDetails } from "@gateway/common";
import { describe, expect, it } from "vitest";
import type { Json } from "../src/providers/provider.js";
import { toChatFromResponses } from "../src/translate/responses-request.js";

const chat = (body: Json, provider = "openai", providerModel = "gpt-4o-mini", dropParams = false) => toChatFromResponses(body, dropParams, provider, providerModel);

/** The error a client sees for a body. */
function refusal(body: Json, dropParams = false): ErrorDetails {
  try {
    toChatFromResponses(body, dropParams, "openai", "gpt-4o-mini");
  } catch (err) {
    return describeError(err);
  }
  throw new Error("expected a 400");
}

describe("Responses request to OpenAI chat", () => {
  it("puts instructions in a system message ahead of a string input", () => {
    expect(chat({ model: "m", instructions: "Be brief.", input: "hi", stream: true })).toEqual({
      model: "m",
      stream: true,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hi" },
      ],
    });
    expect(chat({ model: "m", instructions: "", input: "hi" })["messages"]).toEqual([{ role: "user", content: "hi" }]);
  });

  it("turns a multi-turn item list into messages, joining a turn's parallel calls into one assistant message", () => {
    const input = [
      { role: "developer", content: "Use the tools." },
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "Weather here and there?" },
          { type: "input_image", image_url: "https://example.com/map.png", detail: "low" },
        ],
      },
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "Two cities." }], encrypted_content: "gAAA" },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking ", annotations: [] }, { type: "output_text", text: "both.", annotations: [] }] },
      { type: "function_call", call_id: "c1", name: "weather", arguments: '{"city":"Paris"}' },
      { type: "function_call", call_id: "c2", name: "weather", arguments: '{"city":"Oslo"}' },
      { type: "function_call_output", call_id: "c1", output: "sunny" },
      { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "snow" }, { type: "input_text", text: ", -3C" }] },
      { type: "reasoning", id: "rs_2", summary: [] },
      { type: "function_call", call_id: "c3", name: "weather", arguments: "{}" },
      { type: "function_call_output", call_id: "c3", output: "rain" },
      { role: "user", content: [{ type: "input_file", filename: "a.pdf", file_data: "data:application/pdf;base64,JVBERi0=" }] },
    ];
    const call = (id: string, args: string) => ({ id, type: "function", function: { name: "weather", arguments: args } });
    expect(chat({ model: "m", input })["messages"]).toEqual([
      { role: "developer", content: "Use the tools." },
      {
        role: "user",
        content: [
          { type: "text", text: "Weather here and there?" },
          { type: "image_url", image_url: { url: "https://example.com/map.png", detail: "low" } },
        ],
      },
      { role: "assistant", content: "Checking both.", tool_calls: [call("c1", '{"city":"Paris"}'), call("c2", '{"city":"Oslo"}')] },
      { role: "tool", tool_call_id: "c1", content: "sunny" },
      { role: "tool", tool_call_id: "c2", content: "snow, -3C" },
      { role: "assistant", content: null, tool_calls: [call("c3", "{}")] },
      { role: "tool", tool_call_id: "c3", content: "rain" },
      { role: "user", content: [{ type: "file", file: { file_data: "data:application/pdf;base64,JVBERi0=", filename: "a.pdf" } }] },
    ]);
  });

  it("reads a refusal back as the assistant's text", () => {
    const input = [{ type: "message", role: "assistant", content: [{ type: "refusal", refusal: "I can't help with that." }] }];
    expect(chat({ model: "m", input })["messages"]).toEqual([{ role: "assistant", content: "I can't help with that." }]);
  });

  it("maps function tools and tool_choice, with parallel_tool_calls", () => {
    const body = {
      model: "m",
      input: "hi",
      tools: [
        { type: "function", name: "weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: true },
        { type: "function", name: "now", parameters: null },
      ],
      tool_choice: { type: "function", name: "weather" },
      parallel_tool_calls: false,
    };
    expect(chat(body)).toMatchObject({
      tools: [
        {
          type: "function",
          function: { name: "weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: true },
        },
        { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
      ],
      tool_choice: { type: "function", function: { name: "weather" } },
      parallel_tool_calls: false,
    });
    expect(chat({ ...body, tool_choice: "required" })["tool_choice"]).toBe("required");
    expect(refusal({ ...body, tool_choice: { type: "file_search" } }).param).toBe("tool_choice");
  });

  it("limits OpenAI's reasoning models by max_completion_tokens, and other models by max_tokens", () => {
    const limit = (provider: string, model: string) => chat({ model: "m", input: "hi", max_output_tokens: 500 }, provider, model);
    expect(limit("openai", "o4-mini")).toMatchObject({ max_completion_tokens: 500 });
    expect(limit("openai", "o4-mini")).not.toHaveProperty("max_tokens");
    expect(limit("openai", "gpt-4o-mini")).toMatchObject({ max_tokens: 500 });
    expect(limit("anthropic", "claude-sonnet-4-5")).toMatchObject({ max_tokens: 500 });
  });

  it("sends the reasoning effort, without its summary", () => {
    const body = chat({ model: "m", input: "hi", reasoning: { effort: "high", summary: "auto" } }, "openai", "o4-mini");
    expect(body["reasoning_effort"]).toBe("high");
    expect(body).not.toHaveProperty("reasoning");
  });

  it("maps text.format to response_format, and verbosity for OpenAI's models only", () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
    const text = { format: { type: "json_schema", name: "answer", schema, strict: true }, verbosity: "low" };
    expect(chat({ model: "m", input: "hi", text }, "openai", "gpt-5")).toMatchObject({
      response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } },
      verbosity: "low",
    });
    expect(chat({ model: "m", input: "hi", text }, "anthropic", "claude-sonnet-4-5")).not.toHaveProperty("verbosity");
    expect(chat({ model: "m", input: "hi", text: { format: { type: "json_object" } } })["response_format"]).toEqual({ type: "json_object" });
    expect(chat({ model: "m", input: "hi", text: { format: { type: "text" } } })).not.toHaveProperty("response_format");
  });

  it("ignores storage and telemetry hints, and treats null as absent", () => {
    const body = {
      model: "m",
      input: "hi",
      store: false,
      include: ["reasoning.encrypted_content"],
      metadata: { team: "a" },
      prompt_cache_key: "k",
      safety_identifier: "s",
      service_tier: "auto",
      truncation: "disabled",
      background: false,
      previous_response_id: null,
      temperature: null,
      top_p: 0.5,
      user: "u-1",
    };
    expect(chat(body)).toEqual({ model: "m", messages: [{ role: "user", content: "hi" }], top_p: 0.5, user: "u-1" });
  });

  it("refuses what needs stored state, even under drop_params", () => {
    for (const dropParams of [false, true]) {
      const { message, param } = refusal({ model: "m", input: "hi", previous_response_id: "resp_1" }, dropParams);
      expect(param).toBe("previous_response_id");
      expect(message).toContain("send the whole conversation as input");
      expect(refusal({ model: "m", input: "hi", background: true }, dropParams).param).toBe("background");
    }
  });

  it("refuses a hosted tool and an unknown parameter, and drops both under drop_params", () => {
    const body = { model: "m", input: "hi", tools: [{ type: "web_search" }, { type: "function", name: "now" }], tool_choice: "auto" };
    expect(refusal(body)).toMatchObject({ param: "tools", message: expect.stringContaining('"web_search"') });
    expect(refusal({ model: "m", input: "hi", max_tool_calls: 3 })).toMatchObject({ param: "max_tool_calls", message: expect.stringContaining("drop_params") });
    expect(chat({ ...body, max_tool_calls: 3 }, "openai", "gpt-4o-mini", true)).toEqual({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      tools: [{ type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } }],
      tool_choice: "auto",
    });
    expect(chat({ model: "m", input: "hi", tools: [{ type: "web_search" }], tool_choice: "auto" }, "openai", "gpt-4o-mini", true)).not.toHaveProperty("tool_choice");
  });

  it("refuses input it cannot send on", () => {
    expect(refusal({ model: "m", input: [{ type: "item_reference", id: "msg_1" }] })).toMatchObject({ param: "input", message: expect.stringContaining('"item_reference"') });
    expect(refusal({ model: "m", input: [{ role: "user", content: [{ type: "input_image", file_id: "file-1" }] }] }).param).toBe("input");
    expect(refusal({ model: "m", input: [{ role: "user", content: [{ type: "input_audio" }] }] }).message).toContain('"input_audio"');
  });

  it("quotes a type or role that is an object as JSON when it refuses it", () => {
    // JSON can make an object whose toString is not a function; String() of it threw a TypeError, a 500.
    const junk = JSON.parse('{"toString":1}') as Json;
    expect(refusal({ model: "m", input: [{ type: junk }] })).toMatchObject({ param: "input", message: expect.stringContaining('"{"toString":1}"') });
    expect(refusal({ model: "m", input: [{ role: junk, content: "hi" }] })).toMatchObject({ param: "input", message: expect.stringContaining('{"toString":1}') });
    expect(refusal({ model: "m", input: [{ role: "user", content: [{ type: junk }] }] })).toMatchObject({ param: "input", message: expect.stringContaining('{"toString":1}') });
    expect(refusal({ model: "m", input: "hi", tools: [{ type: junk }] })).toMatchObject({ param: "tools", message: expect.stringContaining('{"toString":1}') });
  });
});
