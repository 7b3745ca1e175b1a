import type { FakeProvider } from "@gateway/fake-provider";
import { Ajv } from "ajv";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MODES, fakeBehindGatewayPerTest } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// The openai SDK's helpers (stream(), runTools(), responses.stream()) over
// translated providers: what they build from the stream must be what OpenAI's
// own stream would give them.
// PGlite and the in-process bus: the translation runs the same in every mode.
const mode = MODES[2]!;

/** A tool without parameters: Claude calls it with `{}`, streaming its input as nothing. */
const clockTool = { type: "function" as const, function: { name: "get_weather", description: "Weather here and now", parameters: { type: "object", properties: {} } } };

/** A JSON schema as the SDK's parse() sends one (strict: every property required, no others). */
const cityFormat = {
  type: "json_schema" as const,
  json_schema: {
    name: "city",
    strict: true,
    schema: {
      type: "object",
      properties: {
        name: { type: "string", minLength: 12 },
        population: { type: "integer", minimum: 1000 },
        kind: { type: "string", enum: ["capital", "town"] },
        districts: { type: "array", items: { type: "object", properties: { name: { type: "string" } }, required: ["name"], additionalProperties: false } },
        coastal: { type: ["boolean", "null"] },
      },
      required: ["name", "population", "kind", "districts", "coastal"],
      additionalProperties: false,
    },
  },
};
const conformsToCity = new Ajv().compile(cityFormat.json_schema.schema);

describe("openai SDK helpers on translated providers", () => {
  let client: OpenAI;
  let provider: FakeProvider;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ openai: client, provider } = setup));
  const upstream = () => provider.requests.at(-1)!;

  it("gives a streamed call of a tool without parameters the arguments {}, as the whole answer does", async () => {
    const messages = [{ role: "user" as const, content: "What is the weather here?" }];
    const whole = await client.chat.completions.create({ model: "claude", tools: [clockTool], messages });
    expect(whole.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: "get_weather", arguments: "{}" } });

    const streamed = await client.chat.completions.stream({ model: "claude", tools: [clockTool], messages }).finalChatCompletion();
    expect(streamed.choices[0]!.message.tool_calls?.[0]).toMatchObject({ function: { name: "get_weather", arguments: "{}" } });
    expect(streamed.choices[0]!.finish_reason).toBe("tool_calls");
  });

  it("lets runTools() call a tool without parameters over a stream, once, and finish", async () => {
    const calls: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: "claude",
      stream: true,
      messages: [{ role: "user", content: "What is the weather here?" }],
      tools: [{ type: "function", function: { ...clockTool.function, parse: JSON.parse, function: (args: unknown) => (calls.push(args), "sunny") } }],
    });
    const final = await runner.finalContent();
    expect(calls).toEqual([{}]);
    expect(final).toBe("Echo: What is the weather here?");
  });

  it("names each answer's request id as OpenAI does, so the SDK shows it as _request_id and as an error's requestID", async () => {
    const { data, response } = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(response.headers.get("x-request-id")).toBe(response.headers.get("x-litellm-call-id"));
    expect(data.choices[0]!.message.content).toBe("Echo: hi");
    const answer = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] });
    expect(answer._request_id).toMatch(/^[0-9a-f-]{36}$/);
    const streamed = await client.chat.completions.create({ model: "gemini-flash", stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
    for await (const _ of streamed.data);
    expect(streamed.response.headers.get("x-request-id")).toBe(streamed.response.headers.get("x-litellm-call-id"));
    const error = await client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).requestID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reports Gemini's thinking tokens as reasoning_tokens, in chat usage and in the Responses API's", async () => {
    const answer = await client.chat.completions.create({ model: "gemini-flash", reasoning_effort: "low", messages: [{ role: "user", content: "one two" }] });
    // The fake thinks "Thinking about: one two" (four tokens) and answers "Echo: one two" (three).
    expect(answer.usage).toMatchObject({ completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 4 } });
    const stream = await client.chat.completions.create({ model: "gemini-flash", stream: true, stream_options: { include_usage: true }, reasoning_effort: "low", messages: [{ role: "user", content: "one two" }] });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage).toMatchObject({ completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 4 } });
    const response = await client.responses.create({ model: "gemini-flash", input: "one two", reasoning: { effort: "low" } });
    expect(response.usage).toMatchObject({ output_tokens: 7, output_tokens_details: { reasoning_tokens: 4 } });
    const streamed = await client.responses.stream({ model: "gemini-flash", input: "one two", reasoning: { effort: "low" } }).finalResponse();
    expect(streamed.usage).toMatchObject({ output_tokens: 7, output_tokens_details: { reasoning_tokens: 4 } });
  });

  it("takes response_format {type: \"text\"}, the default, where a provider has no JSON output to ask for", async () => {
    const answer = await client.chat.completions.create({ model: "claude", response_format: { type: "text" }, messages: [{ role: "user", content: "plain words" }] });
    expect(answer.choices[0]!.message.content).toBe("Echo: plain words");
  });

  it("lets parse() ask Claude for JSON by a schema: a forced tool whose input is the answer, given as content", async () => {
    const messages = [{ role: "user" as const, content: "Describe a city." }];
    const completion = await client.chat.completions.parse({ model: "claude", response_format: cityFormat, messages });
    const choice = completion.choices[0]!;
    expect(conformsToCity(choice.message.parsed)).toBe(true);
    expect(JSON.parse(choice.message.content!)).toEqual(choice.message.parsed);
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.tool_calls ?? []).toEqual([]);
    expect(upstream().body).toMatchObject({
      tools: [{ name: "json_tool_call", input_schema: cityFormat.json_schema.schema }],
      tool_choice: { type: "tool", name: "json_tool_call" },
    });
    expect(upstream().body).not.toHaveProperty("response_format");

    // json_object: any object, here the empty one.
    const object = await client.chat.completions.create({ model: "claude", response_format: { type: "json_object" }, messages });
    expect(object.choices[0]).toMatchObject({ message: { content: "{}" }, finish_reason: "stop" });
    expect(upstream().body).toMatchObject({ tools: [{ name: "json_tool_call", input_schema: { type: "object" } }] });
  });

  it("streams Claude's JSON answer as content deltas, ending with stop, as stream() gathers them", async () => {
    const messages = [{ role: "user" as const, content: "Describe a city." }];
    const stream = await client.chat.completions.create({ model: "claude", stream: true, response_format: cityFormat, messages });
    let content = "";
    const finishes: string[] = [];
    const toolCalls: unknown[] = [];
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? "";
      if (chunk.choices[0]?.delta.tool_calls) toolCalls.push(chunk.choices[0].delta.tool_calls);
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
    }
    expect(conformsToCity(JSON.parse(content))).toBe(true);
    expect({ finishes, toolCalls }).toEqual({ finishes: ["stop"], toolCalls: [] });
    expect(upstream().body).toMatchObject({ stream: true, tool_choice: { type: "tool", name: "json_tool_call" } });

    const final = await client.chat.completions.stream({ model: "claude", response_format: cityFormat, messages }).finalChatCompletion();
    // stream() parses only formats made with a schema library's helper: the content is what it would parse.
    expect(final.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: expect.any(String) } });
    expect(conformsToCity(JSON.parse(final.choices[0]!.message.content!))).toBe(true);

    const object = await client.chat.completions.create({ model: "claude", stream: true, response_format: { type: "json_object" }, messages });
    let objectContent = "";
    for await (const chunk of object) objectContent += chunk.choices[0]?.delta.content ?? "";
    expect(objectContent).toBe("{}");
  });

  it("refuses a JSON response_format beside the request's own tools on Claude, naming it, and drops it under drop_params", async () => {
    const ask = { response_format: cityFormat, tools: [clockTool], messages: [{ role: "user" as const, content: "Describe a city." }] };
    const refused = await client.chat.completions.create({ model: "claude", ...ask }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused).toMatchObject({ param: "response_format", code: "unsupported_params" });
    const lenient = await client.chat.completions.create({ model: "claude-lenient", ...ask });
    expect(lenient.choices[0]!.message.content).toBe("Echo: Describe a city.");
    expect(upstream().body).toMatchObject({ tools: [{ name: "get_weather" }] });
  });

  it("answers the Responses API's text.format json_schema on Claude with JSON output_text", async () => {
    const { name, schema, strict } = cityFormat.json_schema;
    const response = await client.responses.create({ model: "claude", input: "Describe a city.", text: { format: { type: "json_schema", name, schema, strict } } });
    expect(conformsToCity(JSON.parse(response.output_text))).toBe(true);
    expect(upstream().body).toMatchObject({ tool_choice: { type: "tool", name: "json_tool_call" } });
  });

  it("gives the Responses API's function_call of a tool without parameters the arguments {} when streamed", async () => {
    const tool = { type: "function" as const, name: "get_weather", parameters: { type: "object", properties: {} }, strict: false };
    const stream = client.responses.stream({ model: "claude", input: "What is the weather here?", tools: [tool] });
    const final = await stream.finalResponse();
    expect(final.output.find((item) => item.type === "function_call")).toMatchObject({ name: "get_weather", arguments: "{}" });
  });
});
