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

describe("openai SDK helpers on translated providers", () => {
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ openai: client } = setup));

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

  it("gives the Responses API's function_call of a tool without parameters the arguments {} when streamed", async () => {
    const tool = { type: "function" as const, name: "get_weather", parameters: { type: "object", properties: {} }, strict: false };
    const stream = client.responses.stream({ model: "claude", input: "What is the weather here?", tools: [tool] });
    const final = await stream.finalResponse();
    expect(final.output.find((item) => item.type === "function_call")).toMatchObject({ name: "get_weather", arguments: "{}" });
  });
});
