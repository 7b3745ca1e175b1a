import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MODES, startFakeBehindGateway, type FakeBehindGateway, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// OpenAI's Responses API (/v1/responses) through the official SDK, answered
// by chat completions on each kind of deployment.

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"], additionalProperties: false },
  strict: true,
};

describe.each(MODES)("POST /v1/responses, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  let setup: FakeBehindGateway | undefined;

  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, providersConfig);
    ({ provider, gateway, openai: client } = setup);
  });

  afterAll(() => setup?.close());

  beforeEach(() => {
    provider.requests.length = 0;
    delete provider.behavior.breakStreamAfterChunks;
  });

  it("answers with a response whose output_text is the model's answer, and books it as aresponses", async () => {
    const { data, response } = await client.responses.create({ model: "gpt", instructions: "Be terse.", input: "hello there" }).withResponse();
    expect(data).toMatchObject({ object: "response", status: "completed", model: "gpt", output_text: "Echo: hello there" });
    expect(data.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: 3 });
    expect(provider.requests.at(-1)).toMatchObject({
      path: "/v1/chat/completions",
      body: { messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "hello there" }] },
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "aresponses", model_group: "gpt", prompt_tokens: data.usage!.input_tokens, completion_tokens: 3, stream: false });
  });

  it("streams the Responses events from an Anthropic deployment, ending with the usage", async () => {
    const stream = client.responses.stream({ model: "claude", input: [{ role: "user", content: "one two three" }] });
    const types: string[] = [];
    let text = "";
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    const final = await stream.finalResponse();
    expect(text).toBe("Echo: one two three");
    expect(final.output).toMatchObject([{ type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: "Echo: one two three" }] }]);
    expect(final.usage).toMatchObject({ output_tokens: 4 });
    expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    expect(provider.requests.at(-1)?.path).toBe("/v1/messages");
  });

  it("calls functions, streamed or not, and takes their output back in the next request", async () => {
    const ask = { role: "user" as const, content: "What's the weather in Paris?" };
    const first = await client.responses.create({ model: "gpt", tools: [weatherTool], input: [ask] });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: '{"location":"Paris"}', status: "completed" });

    const stream = client.responses.stream({ model: "gemini-flash", tools: [weatherTool], input: [ask] });
    let args = "";
    for await (const event of stream) if (event.type === "response.function_call_arguments.delta") args += event.delta;
    const streamedCall = (await stream.finalResponse()).output.find((item) => item.type === "function_call");
    expect(JSON.parse(args)).toEqual({ location: "Paris" });
    expect(streamedCall).toMatchObject({ name: "get_weather", arguments: args });

    if (call?.type !== "function_call") throw new Error("no function call");
    const answer = await client.responses.create({
      model: "gpt",
      tools: [weatherTool],
      input: [ask, call, { type: "function_call_output", call_id: call.call_id, output: "sunny" }],
    });
    expect(answer.output_text).toBe("Echo: What's the weather in Paris?");
    expect((provider.requests.at(-1)?.body as { messages: unknown[] }).messages.slice(1)).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: call.call_id, type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
      { role: "tool", tool_call_id: call.call_id, content: "sunny" },
    ]);
  });

  it("ends a stream that breaks with an error event the SDK raises, and books the failure", async () => {
    provider.behavior.breakStreamAfterChunks = 1;
    const { data: stream, response } = await client.responses.create({ model: "gpt", input: "one two three", stream: true }).withResponse();
    const types: string[] = [];
    const err = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain("stream broke");
    expect(types).toContain("response.output_text.delta");
    expect(types).not.toContain("response.completed");
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ status: "failure", call_type: "aresponses", stream: true });
  });

  it("refuses what needs stored state, and a request without input, before calling anyone", async () => {
    const stored = (await client.responses.create({ model: "gpt", input: "hi", previous_response_id: "resp_1" }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(stored).toBeInstanceOf(OpenAI.BadRequestError);
    expect(stored.message).toContain("input");
    const empty = (await client.responses.create({ model: "gpt", input: [] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty.param).toBe("input");
    expect(provider.requests).toHaveLength(0);
  });
});
