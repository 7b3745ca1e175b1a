import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// The adapter lives in the router and runs the same in every mode.
const mode = MODES[0]!;

// The fake answers Mistral's API below /mistral, refusing fields it does not
// know with a 422 as Mistral does; the adapter adds the /v1.
function mistralConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/mistral, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: mistral-small
    litellm_params: { model: mistral/mistral-small-latest, ${at} }
    model_info: { id: mistral-1, input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000003 }
  - model_name: mistral-lenient
    litellm_params: { model: mistral/mistral-small-latest, ${at}, drop_params: true }
  - model_name: magistral
    litellm_params: { model: mistral/magistral-medium-latest, ${at} }
  - model_name: codestral
    litellm_params: { model: codestral/codestral-latest, ${at} }
  - model_name: codestral-fim
    litellm_params: { model: text-completion-codestral/codestral-latest, ${at} }
  - model_name: embed-mistral
    litellm_params: { model: mistral/mistral-embed, ${at} }
litellm_settings:
  drop_params: false
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } },
};

type WithReasoning = { reasoning_content?: string };

describe("OpenAI and Anthropic clients on mistral/ deployments", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, mistralConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const upstream = () => provider.requests.at(-1)!;

  it("sends only what Mistral takes, under its names, and books the answer's usage and cost", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "mistral-small",
        seed: 3,
        max_completion_tokens: 40,
        temperature: 0.3,
        messages: [
          { role: "developer", content: "Be brief." },
          { role: "user", content: "hello mistral", name: "ann" },
        ],
      })
      .withResponse();
    expect(data.choices[0]).toMatchObject({ message: { role: "assistant", content: "Echo: hello mistral" }, finish_reason: "stop" });
    expect(upstream().path).toBe("/mistral/v1/chat/completions");
    expect(upstream().headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    expect(upstream().body).toEqual({
      model: "mistral-small-latest",
      stream: false,
      temperature: 0.3,
      max_tokens: 40,
      random_seed: 3,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello mistral" },
      ],
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    const { prompt_tokens, completion_tokens } = data.usage!;
    expect(row).toMatchObject({ custom_llm_provider: "mistral", model: "mistral-small-latest", prompt_tokens, completion_tokens, usage_estimated: false });
    expect(row["spend"]).toBeCloseTo((prompt_tokens * 0.1 + completion_tokens * 0.3) / 1e6, 12);
  });

  it("streams without stream_options, counting the usage Mistral sends on its last chunk; the client sees it only when it asked", async () => {
    const hi = [{ role: "user" as const, content: "one two three" }];
    const { data: plain, response } = await client.chat.completions.create({ model: "mistral-small", stream: true, messages: hi }).withResponse();
    let text = "";
    let finish: string | null | undefined;
    const withUsage: unknown[] = [];
    for await (const chunk of plain) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) withUsage.push(chunk);
    }
    expect({ text, finish, withUsage }).toEqual({ text: "Echo: one two three", finish: "stop", withUsage: [] });
    expect(upstream().body).not.toHaveProperty("stream_options");
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ prompt_tokens: 6, completion_tokens: 4, usage_estimated: false });

    const asked = await client.chat.completions.create({ model: "mistral-small", stream: true, stream_options: { include_usage: true }, messages: hi });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of asked) chunks.push(chunk);
    // As OpenAI sends it: a last chunk of its own, with no choices.
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 } });
    expect(chunks.slice(0, -1).filter((chunk) => chunk.usage)).toEqual([]);
    expect(upstream().body).not.toHaveProperty("stream_options");
  });

  it("calls tools, asking for one with Mistral's \"any\", and sends the results back", async () => {
    const ask = { role: "user" as const, content: "weather in Paris?" };
    const completion = await client.chat.completions.create({ model: "mistral-small", tools: [weatherTool], tool_choice: "required", messages: [ask] });
    const message = completion.choices[0]!.message;
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
    expect(message.tool_calls?.[0]).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } });
    expect(upstream().body).toMatchObject({ tool_choice: "any", tools: [weatherTool] });

    const stream = await client.chat.completions.create({ model: "mistral-small", stream: true, tools: [weatherTool], messages: [ask] });
    let args = "";
    for await (const chunk of stream) args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
    expect(JSON.parse(args)).toEqual({ location: "Paris" });

    // An assistant turn as the SDK returned it (refusal: null and all) goes back as Mistral takes it.
    const answer = await client.chat.completions.create({
      model: "mistral-small",
      tools: [weatherTool],
      messages: [ask, message, { role: "tool", tool_call_id: message.tool_calls![0]!.id, content: '{"forecast":"sunny"}' }],
    });
    expect(answer.choices[0]!.message.content).toBe("Echo: weather in Paris?");
    expect((upstream().body as { messages: unknown[] }).messages[1]).toEqual({
      role: "assistant",
      content: "",
      tool_calls: [{ id: message.tool_calls![0]!.id, type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }],
    });

    // A conversation whose call another model made (its id is no Mistral id) goes on at Mistral, call and result under one id Mistral takes.
    const elsewhere = { id: "call_from_another_model_42", type: "function" as const, function: { name: "get_weather", arguments: '{"location":"Paris"}' } };
    const continued = await client.chat.completions.create({
      model: "mistral-small",
      tools: [weatherTool],
      messages: [ask, { role: "assistant", content: null, tool_calls: [elsewhere] }, { role: "tool", tool_call_id: elsewhere.id, content: "sunny" }],
    });
    expect(continued.choices[0]!.message.content).toBe("Echo: weather in Paris?");
    const sent = (upstream().body as { messages: { tool_calls?: { id: string }[]; tool_call_id?: string }[] }).messages;
    expect(sent[1]!.tool_calls![0]!.id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(sent[2]!.tool_call_id).toBe(sent[1]!.tool_calls![0]!.id);
  });

  it("refuses a parameter Mistral does not take, naming it, unless drop_params", async () => {
    const hi = [{ role: "user" as const, content: "hi" }];
    const refused = await client.chat.completions.create({ model: "mistral-small", user: "ann", messages: hi }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: "unsupported_params", param: "user" });
    expect(provider.requests).toHaveLength(0);

    const dropped = await client.chat.completions.create({ model: "mistral-lenient", user: "ann", logit_bias: { "1": 1 }, messages: hi });
    expect(dropped.choices[0]!.message.content).toBe("Echo: hi");
    expect(upstream().body).toEqual({ model: "mistral-small-latest", stream: false, messages: hi });
  });

  it("gives a reasoning model's thinking as reasoning_content, whole and streamed", async () => {
    const hi = [{ role: "user" as const, content: "one two" }];
    const answer = await client.chat.completions.create({ model: "magistral", messages: hi });
    const message = answer.choices[0]!.message as typeof answer.choices[0]["message"] & WithReasoning;
    expect([message.content, message.reasoning_content]).toEqual(["Echo: one two", "Thinking about it."]);

    const stream = await client.chat.completions.create({ model: "magistral", stream: true, messages: hi });
    let text = "";
    let reasoning = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as (OpenAI.ChatCompletionChunk.Choice.Delta & WithReasoning) | undefined;
      text += delta?.content ?? "";
      reasoning += delta?.reasoning_content ?? "";
    }
    expect({ text, reasoning }).toEqual({ text: "Echo: one two", reasoning: "Thinking about it." });
  });

  it("speaks the same API to codestral/ deployments", async () => {
    const { data, response } = await client.chat.completions.create({ model: "codestral", seed: 1, messages: [{ role: "user", content: "def f():" }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe("Echo: def f():");
    expect(upstream()).toMatchObject({ path: "/mistral/v1/chat/completions", body: { model: "codestral-latest", random_seed: 1 } });
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ custom_llm_provider: "codestral" });
  });

  it("fills in the middle through text-completion-codestral/, whole and streamed, and answers nothing else", async () => {
    const { data, response } = await client.completions
      .create({ model: "codestral-fim", prompt: "def add(a, b):", suffix: "print(add(1, 2))", max_tokens: 20, seed: 4 })
      .withResponse();
    expect(data).toMatchObject({ object: "text_completion", choices: [{ index: 0, text: "Echo: def add(a, b):", finish_reason: "stop" }] });
    expect(upstream()).toMatchObject({
      path: "/mistral/v1/fim/completions",
      body: { model: "codestral-latest", prompt: "def add(a, b):", suffix: "print(add(1, 2))", max_tokens: 20, random_seed: 4, stream: false },
    });
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ custom_llm_provider: "text-completion-codestral", prompt_tokens: 5, completion_tokens: 4 });

    const stream = await client.completions.create({ model: "codestral-fim", prompt: "one two", stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      usage = chunk.usage ?? usage;
    }
    expect({ text, usage }).toMatchObject({ text: "Echo: one two", usage: { prompt_tokens: 2, completion_tokens: 3 } });
    expect(upstream().body).not.toHaveProperty("stream_options");

    const echo = await client.completions.create({ model: "codestral-fim", prompt: "x", echo: true }).catch((e: unknown) => e);
    expect(echo).toBeInstanceOf(OpenAI.BadRequestError);
    expect((echo as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: "echo" });
    const chat = await client.chat.completions.create({ model: "codestral-fim", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(chat).toBeInstanceOf(OpenAI.BadRequestError);
    expect((chat as Error).message).toContain("for chat use codestral/");
  });

  it("answers the Responses API through chat, streamed too", async () => {
    const response = await client.responses.create({ model: "mistral-small", instructions: "Be brief.", input: "hello responses", max_output_tokens: 50 });
    expect(response.output_text).toBe("Echo: hello responses");
    expect(upstream().body).toEqual({
      model: "mistral-small-latest",
      stream: false,
      max_tokens: 50,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello responses" },
      ],
    });
    const stream = await client.responses.create({ model: "mistral-small", input: "one two", stream: true });
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(text).toBe("Echo: one two");
    expect(completed?.usage).toMatchObject({ input_tokens: 5, output_tokens: 3 });
  });

  it("embeds, and answers an Anthropic client through chat", async () => {
    const embedded = await client.embeddings.create({ model: "embed-mistral", input: ["a b", "c"] });
    expect(embedded.data.map((d) => d.embedding.length)).toEqual([embedded.data[0]!.embedding.length, embedded.data[0]!.embedding.length]);
    expect(embedded.data[0]!.embedding.length).toBeGreaterThan(0);
    expect(upstream().path).toBe("/mistral/v1/embeddings");

    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
    const reply = await anthropic.messages.create({ model: "mistral-small", max_tokens: 30, messages: [{ role: "user", content: "hello there" }] });
    expect(reply.content).toEqual([{ type: "text", text: "Echo: hello there" }]);
    expect(upstream().body).toMatchObject({ model: "mistral-small-latest", max_tokens: 30, messages: [{ role: "user", content: "hello there" }] });
  });
});
