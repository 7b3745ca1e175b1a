import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// OpenAI's Responses API (/v1/responses) through the official SDK: passed to
// OpenAI as it is, and answered by chat completions on the other kinds of
// deployment and on OpenAI-compatible servers without it.

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
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  it("passes a request for OpenAI through as it is, stored state included, and books it as aresponses", async () => {
    const { data, response } = await client.responses.create({ model: "gpt", instructions: "Be terse.", input: "hello there", previous_response_id: "resp_earlier" }).withResponse();
    expect(data).toMatchObject({ object: "response", status: "completed", output_text: "Echo: hello there" });
    expect(provider.requests.at(-1)).toMatchObject({
      path: "/v1/responses",
      body: { model: "gpt-4o-mini", instructions: "Be terse.", input: "hello there", previous_response_id: "resp_earlier", stream: false },
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "aresponses", model_group: "gpt", prompt_tokens: data.usage!.input_tokens, completion_tokens: 3, stream: false });

    const stream = client.responses.stream({ model: "gpt", input: "one two three" });
    let text = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    expect(text).toBe("Echo: one two three");
    expect((await stream.finalResponse()).usage).toMatchObject({ output_tokens: 4 });
  });

  it("answers through chat completions on an OpenAI-compatible server without the Responses API, asking it once", async () => {
    provider.behavior.noResponsesApi = true;
    const first = await client.responses.create({ model: "gpt", instructions: "Be terse.", input: "hello there" });
    const second = await client.responses.create({ model: "gpt", input: "hello again" });
    expect([first.output_text, second.output_text]).toEqual(["Echo: hello there", "Echo: hello again"]);
    expect(provider.requests.map((r) => r.path)).toEqual(["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"]);
    expect(provider.requests[1]!.body).toMatchObject({ messages: [{ role: "system", content: "Be terse." }, { role: "user", content: "hello there" }] });
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
    const result = { type: "function_call_output" as const, call_id: call.call_id, output: "sunny" };
    const answer = await client.responses.create({ model: "gpt", tools: [weatherTool], input: [ask, call, result] });
    expect(answer.output_text).toBe("Echo: What's the weather in Paris?");
    // Through chat, the call and its output become the assistant's tool call and its result.
    const bridged = await client.responses.create({ model: "claude", tools: [weatherTool], input: [ask, call, result] });
    expect(bridged.output_text).toBe("Echo: What's the weather in Paris?");
    expect((provider.requests.at(-1)?.body as { messages: unknown[] }).messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: call.call_id, name: "get_weather", input: { location: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: call.call_id, content: "sunny" }] },
    ]);
  });

  it("carries Claude's signed thinking in a reasoning item, so a thinking model's tool calls can be answered, whole and streamed", async () => {
    const ask = { role: "user" as const, content: "What's the weather in Paris?" };
    const asked = { model: "claude", tools: [weatherTool], reasoning: { effort: "medium" as const } };
    for (const streamed of [false, true]) {
      const first = streamed ? await client.responses.stream({ ...asked, input: [ask] }).finalResponse() : await client.responses.create({ ...asked, input: [ask] });
      const reasoning = first.output.find((item) => item.type === "reasoning");
      expect(reasoning, `streamed: ${streamed}`).toMatchObject({ encrypted_content: expect.stringMatching(/^gateway-thinking:/) });
      const call = first.output.find((item) => item.type === "function_call");
      if (call?.type !== "function_call") throw new Error("no function call");
      // The client hands the whole output back with the call's result, as the SDK's examples do.
      const input = [ask, ...first.output, { type: "function_call_output" as const, call_id: call.call_id, output: "sunny" }] as OpenAI.Responses.ResponseInput;
      const answer = await client.responses.create({ ...asked, input });
      expect(answer.status, `streamed: ${streamed}`).toBe("completed");
      const sent = (provider.requests.at(-1)?.body as { messages: { role: string; content: { type: string }[] }[] }).messages;
      expect(sent[1]!.content.map((block) => block.type)).toEqual(["thinking", "tool_use"]);
    }
    // A deployment of another kind (Gemini here) is not handed Claude's thinking.
    const first = await client.responses.create({ ...asked, input: [ask] });
    const call = first.output.find((item) => item.type === "function_call");
    if (call?.type !== "function_call") throw new Error("no function call");
    await client.responses.create({ model: "gemini-flash", tools: [weatherTool], input: [ask, ...first.output, { type: "function_call_output", call_id: call.call_id, output: "sunny" }] as OpenAI.Responses.ResponseInput });
    expect(JSON.stringify(provider.requests.at(-1)?.body)).not.toContain("fake-signature");
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

  it("passes a response that failed after it began on as it is, and books it as a failure with its usage", async () => {
    provider.behavior.responseFailure = "server_error";
    // Not "gpt": an earlier test had its server refuse the Responses API, and the router remembers.
    try {
      const { data: stream, response } = await client.responses.create({ model: "gpt-reasoning", input: "one two three", stream: true }).withResponse();
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      expect(types.at(-1)).toBe("response.failed");
      const streamed = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
      expect(streamed).toMatchObject({ status: "failure", error_type: "server_error", call_type: "aresponses", stream: true });
      expect(streamed["completion_tokens"]).toBeGreaterThan(0);

      const { data: whole, response: wholeResponse } = await client.responses.create({ model: "gpt-reasoning", input: "one two three" }).withResponse();
      expect(whole.status).toBe("failed");
      expect(await gateway.spendLog(wholeResponse.headers.get("x-litellm-call-id")!)).toMatchObject({ status: "failure", error_type: "server_error", stream: false });
    } finally {
      delete provider.behavior.responseFailure;
    }
  });

  it("refuses what needs stored state, and a request without input, before calling anyone", async () => {
    const stored = (await client.responses.create({ model: "claude", input: "hi", previous_response_id: "resp_1" }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(stored).toBeInstanceOf(OpenAI.BadRequestError);
    expect(stored.message).toContain("input");
    const empty = (await client.responses.create({ model: "gpt", input: [] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty.param).toBe("input");
    expect(provider.requests).toHaveLength(0);
  });
});
