import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { PROVIDER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { PIXEL_PNG, providersConfig } from "./support/providers.js";

// The adapter lives in the router and runs the same in every mode; the modes
// themselves are covered by the chat, messages and embeddings tests.
const mode = MODES[0]!;

const weatherTool = {
  type: "function" as const,
  function: { name: "get_weather", description: "The weather in a city", parameters: { type: "object", properties: { location: { type: "string" } } } },
};

describe("OpenAI clients on an anthropic/ deployment", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const upstream = () => provider.requests.at(-1)!;

  it("translates the request to the Messages API and the answer back", async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: "claude",
        temperature: 0.5,
        messages: [
          { role: "system", content: "You are terse." },
          { role: "user", content: "hello there" },
        ],
      })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]).toMatchObject({ message: { role: "assistant", content: "Echo: hello there" }, finish_reason: "stop" });
    expect(upstream().path).toBe("/v1/messages");
    expect(upstream().headers).toMatchObject({ "x-api-key": PROVIDER_KEY, "anthropic-version": "2023-06-01" });
    expect(upstream().headers["authorization"]).toBeUndefined();
    expect(upstream().body).toEqual({
      model: "claude-3-5-sonnet-20241022",
      max_tokens: 4096,
      system: [{ type: "text", text: "You are terse." }],
      messages: [{ role: "user", content: [{ type: "text", text: "hello there" }] }],
      temperature: 0.5,
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ custom_llm_provider: "anthropic", call_type: "acompletion", prompt_tokens: data.usage!.prompt_tokens, completion_tokens: 3 });
  });

  it("streams Anthropic's events as OpenAI chunks, with usage when asked", async () => {
    const stream = await client.chat.completions.create({
      model: "claude",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "one two three" }],
    });
    let text = "";
    const finishes: string[] = [];
    const usages: OpenAI.CompletionUsage[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.usage) usages.push(chunk.usage);
    }
    expect(text).toBe("Echo: one two three");
    expect(finishes).toEqual(["stop"]);
    expect(usages).toEqual([expect.objectContaining({ completion_tokens: 4 })]);
    expect(upstream().body).toMatchObject({ stream: true });
  });

  it("calls tools, streamed and not, and sends tool results back as tool_result blocks", async () => {
    const ask = { role: "user" as const, content: "What's the weather in Paris?" };
    const completion = await client.chat.completions.create({
      model: "claude",
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
      messages: [ask],
    });
    expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
    expect(completion.choices[0]!.message.tool_calls).toEqual([
      { id: "toolu_fake_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
    ]);
    expect(upstream().body).toMatchObject({
      tools: [{ name: "get_weather", description: "The weather in a city", input_schema: weatherTool.function.parameters }],
      tool_choice: { type: "tool", name: "get_weather", disable_parallel_tool_use: true },
    });

    const stream = await client.chat.completions.create({ model: "claude", stream: true, tools: [weatherTool], messages: [ask] });
    let args = "";
    let name: string | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      if (call?.function?.name) name = call.function.name;
      args += call?.function?.arguments ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ name, args: JSON.parse(args), finish }).toEqual({ name: "get_weather", args: { location: "Paris" }, finish: "tool_calls" });

    await client.chat.completions.create({
      model: "claude",
      tools: [weatherTool],
      messages: [
        ask,
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_9", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        { role: "tool", tool_call_id: "toolu_9", content: "sunny" },
      ],
    });
    expect((upstream().body as { messages: unknown[] }).messages.slice(1)).toEqual([
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_9", name: "get_weather", input: { location: "Paris" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "sunny" }] },
    ]);
  });

  it("turns reasoning_effort into a thinking budget, shows the thinking, and takes its signed blocks back with tool results", async () => {
    const ask = { role: "user" as const, content: "What's the weather in Paris?" };
    type Thinking = { type: string; thinking?: string; signature?: string };
    type WithThinking = { reasoning_content?: string; thinking_blocks?: Thinking[] };
    const completion = await client.chat.completions.create({ model: "claude", reasoning_effort: "high", tools: [weatherTool], messages: [ask] });
    // Without a limit from the client, the answer keeps the usual allowance past the budget.
    expect(upstream().body).toMatchObject({ thinking: { type: "enabled", budget_tokens: 4096 }, max_tokens: 8192 });
    const message = completion.choices[0]!.message as typeof completion.choices[0]["message"] & WithThinking;
    expect(message.reasoning_content).toBe("Thinking about: What's the weather in Paris?");
    expect(message.thinking_blocks).toEqual([{ type: "thinking", thinking: message.reasoning_content, signature: expect.stringMatching(/^fake-signature:/) }]);

    // The same blocks from a stream, put together as a client does.
    const stream = await client.chat.completions.create({ model: "claude", reasoning_effort: "high", stream: true, tools: [weatherTool], messages: [ask] });
    const streamed: Thinking = { type: "thinking", thinking: "", signature: "" };
    let reasoning = "";
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as WithThinking | undefined;
      reasoning += delta?.reasoning_content ?? "";
      for (const block of delta?.thinking_blocks ?? []) {
        streamed.thinking += block.thinking ?? "";
        streamed.signature += block.signature ?? "";
      }
    }
    expect(reasoning).toBe(message.reasoning_content);
    expect(streamed).toEqual(message.thinking_blocks![0]);

    // The tool result goes back with the thinking that led to the call, which Anthropic requires when thinking is on.
    const call = message.tool_calls!;
    const withResult = (blocks: Thinking[] | undefined) => [
      ask,
      { role: "assistant" as const, content: null, tool_calls: call, ...(blocks && { thinking_blocks: blocks }) },
      { role: "tool" as const, tool_call_id: call[0]!.id, content: "sunny" },
    ];
    for (const blocks of [message.thinking_blocks, [streamed]]) {
      const answer = await client.chat.completions.create({ model: "claude", reasoning_effort: "high", tools: [weatherTool], messages: withResult(blocks) as never });
      expect(answer.choices[0]!.message.content).toBe("Echo: What's the weather in Paris?");
      expect((upstream().body as { messages: { content: unknown[] }[] }).messages[1]!.content[0]).toEqual(blocks![0]);
    }
    const unsigned = await client.chat.completions.create({ model: "claude", reasoning_effort: "high", tools: [weatherTool], messages: withResult(undefined) as never }).catch((e: unknown) => e);
    expect(unsigned).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it("asks Claude models from 4.6 on for adaptive thinking at an effort, which they take instead of a budget", async () => {
    const ask = { role: "user" as const, content: "What's the weather in Paris?" };
    const completion = await client.chat.completions.create({ model: "claude-adaptive", reasoning_effort: "xhigh", tools: [weatherTool], messages: [ask] });
    expect(upstream().body).toMatchObject({ thinking: { type: "adaptive" }, output_config: { effort: "xhigh" }, max_tokens: 8192 + 4096 });
    const message = completion.choices[0]!.message as typeof completion.choices[0]["message"] & { thinking_blocks?: unknown[] };
    const answer = await client.chat.completions.create({
      model: "claude-adaptive",
      reasoning_effort: "minimal",
      tools: [weatherTool],
      messages: [ask, { role: "assistant", content: null, tool_calls: message.tool_calls!, thinking_blocks: message.thinking_blocks } as never, { role: "tool", tool_call_id: message.tool_calls![0]!.id, content: "sunny" }],
    });
    expect(upstream().body).toMatchObject({ output_config: { effort: "low" } });
    expect(answer.choices[0]!.message.content).toBe("Echo: What's the weather in Paris?");
  });

  it("fits the thinking budget inside the client's token limit, and refuses a limit too small to think in", async () => {
    const hi = [{ role: "user" as const, content: "hi" }];
    await client.chat.completions.create({ model: "claude", reasoning_effort: "high", max_completion_tokens: 2000, messages: hi });
    expect(upstream().body).toMatchObject({ thinking: { type: "enabled", budget_tokens: 1999 }, max_tokens: 2000 });
    await client.chat.completions.create({ model: "claude", reasoning_effort: "none", messages: hi });
    expect(upstream().body).not.toHaveProperty("thinking");
    provider.requests.length = 0;
    for (const ask of [
      { reasoning_effort: "low" as const, max_tokens: 1000 },
      { reasoning_effort: "extreme" as never, max_tokens: 4000 },
    ]) {
      const err = (await client.chat.completions.create({ model: "claude", ...ask, messages: hi }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe("reasoning_effort");
    }
    expect(provider.requests).toHaveLength(0);
  });

  it("passes Anthropic's rate limits on, in OpenAI's names too", async () => {
    provider.behavior.rateLimitHeaders = {
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "49",
      "anthropic-ratelimit-requests-reset": new Date(Date.now() + 30_000).toISOString(),
      "anthropic-ratelimit-input-tokens-remaining": "39000",
    };
    const { response } = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("49");
    expect(response.headers.get("x-ratelimit-reset-requests")).toMatch(/^(29|30)s$/);
    expect(response.headers.get("llm_provider-anthropic-ratelimit-input-tokens-remaining")).toBe("39000");
  });

  it("leaves out sampling parameters sent as null, OpenAI's unset, which Anthropic refuses", async () => {
    const completion = await client.chat.completions.create({
      model: "claude",
      temperature: null,
      top_p: null,
      messages: [{ role: "user", content: "hello there" }],
    });
    expect(completion.choices[0]!.message.content).toBe("Echo: hello there");
    expect(upstream().body).not.toHaveProperty("temperature");
    expect(upstream().body).not.toHaveProperty("top_p");
  });

  it("sends images as image blocks, inline data and URLs alike", async () => {
    await client.chat.completions.create({
      model: "claude",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "compare" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PIXEL_PNG}` } },
            { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } },
          ],
        },
      ],
    });
    expect((upstream().body as { messages: { content: unknown }[] }).messages[0]!.content).toEqual([
      { type: "text", text: "compare" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: PIXEL_PNG } },
      { type: "image", source: { type: "url", url: "https://example.com/cat.jpg" } },
    ]);
  });

  it("maps stop sequences and max_tokens to stop_sequences and finish reasons", async () => {
    const stopped = await client.chat.completions.create({ model: "claude", stop: ["three"], messages: [{ role: "user", content: "one two three four" }] });
    expect(stopped.choices[0]).toMatchObject({ message: { content: "Echo: one two " }, finish_reason: "stop" });
    expect(upstream().body).toMatchObject({ stop_sequences: ["three"] });
    const cut = await client.chat.completions.create({ model: "claude", max_tokens: 2, messages: [{ role: "user", content: "one two three four" }] });
    expect(cut.choices[0]).toMatchObject({ message: { content: "Echo: one" }, finish_reason: "length" });
    expect(upstream().body).toMatchObject({ max_tokens: 2 });
  });

  it("counts cache reads and writes in the usage and at their prices", async () => {
    Object.assign(provider.behavior, { cachedPromptTokens: 3, cacheWriteTokens: 2 });
    const { data, response } = await client.chat.completions
      .create({ model: "claude", messages: [{ role: "user", content: "a b c d e f g" }] })
      .withResponse();
    const prompt = data.usage!.prompt_tokens;
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
    expect(prompt).toBe(7 + 3);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    const completion = data.usage!.completion_tokens;
    expect(row["spend"]).toBeCloseTo(((prompt - 5) * 3 + 3 * 0.3 + 2 * 3.75 + completion * 15) / 1e6, 12);
    expect(Number(response.headers.get("x-litellm-response-cost"))).toBeCloseTo(row["spend"] as number, 15);
  });

  it("books a prompt past 200,000 tokens at the model's long-context rates", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "claude-long-context", max_tokens: 10, messages: [{ role: "user", content: "word ".repeat(200_001) }] })
      .withResponse();
    expect(data.usage!.prompt_tokens).toBeGreaterThan(200_000);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    // claude-sonnet-4-5 past 200,000 tokens: $6 in and $22.50 out per million, against $3 and $15 below.
    expect(row["spend"]).toBeCloseTo((data.usage!.prompt_tokens * 6 + data.usage!.completion_tokens * 22.5) / 1e6, 12);
  });

  it("estimates usage when the stream reports none, and marks the row", async () => {
    provider.behavior.omitStreamUsage = true;
    const { data: stream, response } = await client.chat.completions
      .create({ model: "claude", stream: true, messages: [{ role: "user", content: "count me please" }] })
      .withResponse();
    for await (const _ of stream) {
      // drain
    }
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ usage_estimated: true, status: "success" });
    expect(row["completion_tokens"]).toBeGreaterThan(0);
  });

  it("refuses a parameter Anthropic lacks, unless the deployment drops it", async () => {
    const err = await client.chat.completions
      .create({ model: "claude", frequency_penalty: 0.5, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain("frequency_penalty");
    expect(provider.requests).toHaveLength(0);

    const ok = await client.chat.completions.create({ model: "claude-lenient", frequency_penalty: 0.5, messages: [{ role: "user", content: "hi" }] });
    expect(ok.choices[0]!.message.content).toBe("Echo: hi");
    expect(upstream().body).not.toHaveProperty("frequency_penalty");
  });

  it("maps Anthropic's errors to their statuses, with the provider key kept out", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const limited = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("7");
    delete provider.behavior.retryAfterSeconds;

    Object.assign(provider.behavior, { failNext: 1, failStatus: 529 });
    const overloaded = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(overloaded).toMatchObject({ status: 529, type: "overloaded_error" });

    provider.behavior.requireApiKey = "sk-some-other-key-123456";
    const denied = await client.chat.completions.create({ model: "claude", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(JSON.stringify((denied as InstanceType<typeof OpenAI.APIError>).error)).not.toContain(PROVIDER_KEY);
  });
});
