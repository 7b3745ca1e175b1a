import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import type OpenAI from "openai";
import { beforeEach, describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// Pricing is the router's and runs the same in every mode; this one books
// through NATS into Postgres, as a deployment does.
const mode = MODES[0]!;

// "claude" is priced from the list: claude-3-5-sonnet, $3 input, $0.30 cache
// reads, $3.75 five-minute and $6 one-hour cache writes, $15 output per
// million tokens. "claude-priced" sets its own cache prices in model_info.
function config(fakeUrl: string): string {
  const params = `model: anthropic/claude-3-5-sonnet-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: claude
    litellm_params: { ${params} }
    model_info: { id: claude-list-price }
  - model_name: claude-priced
    litellm_params: { ${params} }
    model_info:
      id: claude-own-price
      cache_read_input_token_cost: 0.0000001
      cache_creation_input_token_cost: 0.000005
      cache_creation_input_token_cost_above_1hr: 0.00001
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** Dollars at the list price, from the counts in an Anthropic usage block. */
function listCost(usage: { input_tokens: number; output_tokens: number }): number {
  // 2 cache reads, 2 five-minute writes and 3 one-hour writes, as the fake is told below.
  return (usage.input_tokens * 3 + 2 * 0.3 + 2 * 3.75 + 3 * 6 + usage.output_tokens * 15) / 1e6;
}

describe("writes to Anthropic's one-hour cache, booked in the ledger", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  fakeBehindGatewayPerTest(mode, config, (setup) => {
    ({ provider, gateway, openai } = setup);
    anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
  });

  beforeEach(() => {
    Object.assign(provider.behavior, { cachedPromptTokens: 2, cacheWriteTokens: 5, cacheWrite1hTokens: 3 });
  });

  const systemText = "a long system prompt worth an hour";
  const system = [{ type: "text" as const, text: systemText, cache_control: { type: "ephemeral" as const, ttl: "1h" as const } }];

  it("prices a message's one-hour writes at twice the input price", async () => {
    const { data, response } = await anthropic.messages
      .create({ model: "claude", max_tokens: 50, system, messages: [{ role: "user", content: "hello" }] })
      .withResponse();
    expect(data.usage).toMatchObject({ cache_creation_input_tokens: 5, cache_creation: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 } });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["prompt_tokens"]).toBe(data.usage.input_tokens + 7);
    expect(row["spend"]).toBeCloseTo(listCost(data.usage), 12);
    expect(Number(response.headers.get("x-litellm-response-cost"))).toBeCloseTo(row["spend"] as number, 15);
  });

  it("reads the split from a streamed message's message_start", async () => {
    const stream = anthropic.messages.stream({ model: "claude", max_tokens: 50, system, messages: [{ role: "user", content: "hello" }] });
    const message = await stream.finalMessage();
    const { response } = await stream.withResponse();
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["spend"]).toBeCloseTo(listCost(message.usage), 12);
  });

  it("carries the split through a chat stream translated from Anthropic, to the client and to the price", async () => {
    const { data: stream, response } = await openai.chat.completions
      .create({
        model: "claude",
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: "system", content: systemText },
          { role: "user", content: "hello" },
        ],
      })
      .withResponse();
    let usage: Record<string, unknown> | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
    expect(usage).toMatchObject({
      cache_creation_input_tokens: 5,
      prompt_tokens_details: { cached_tokens: 2, cache_creation_tokens: 5, cache_creation_token_details: { ephemeral_5m_input_tokens: 2, ephemeral_1h_input_tokens: 3 } },
    });
    const prompt = usage!["prompt_tokens"] as number;
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["spend"]).toBeCloseTo(listCost({ input_tokens: prompt - 7, output_tokens: usage!["completion_tokens"] as number }), 12);
  });

  it("uses the cache prices a deployment sets in model_info", async () => {
    const { data, response } = await anthropic.messages
      .create({ model: "claude-priced", max_tokens: 50, system, messages: [{ role: "user", content: "hello" }] })
      .withResponse();
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    // $3 input and $15 output from the list; $0.10 reads, $5 five-minute and $10 one-hour writes per million from model_info.
    expect(row["spend"]).toBeCloseTo((data.usage.input_tokens * 3 + 2 * 0.1 + 2 * 5 + 3 * 10 + data.usage.output_tokens * 15) / 1e6, 12);
  });
});
