import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// The tokens a provider read from and wrote to its prompt cache, booked with
// each request (the spend log's metadata.usage_object, as LiteLLM's) and summed
// in the daily activity routes' cache_read_input_tokens and
// cache_creation_input_tokens.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-sonnet-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

interface CacheMetrics {
  prompt_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const RANGE = `start_date=${day(-1)}&end_date=${day(1)}`;

describe.each(MODES)("prompt-cache tokens in the ledger, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  fakeBehindGatewayPerTest(mode, config, (setup) => {
    ({ provider, gateway, openai } = setup);
    anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
  });

  const activity = async (path: string) => {
    const res = await fetch(`${gateway.baseUrl}${path}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      results: { metrics: CacheMetrics; breakdown: { model_groups: Record<string, { metrics: CacheMetrics }>; entities: Record<string, { metrics: CacheMetrics }> } }[];
      metadata: { total_cache_read_input_tokens: number; total_cache_creation_input_tokens: number };
    };
  };

  it("books an Anthropic message's cache reads and writes and an OpenAI chat's cached tokens, and sums them per day, model group and tag", async () => {
    // A tag of this test's own, so that the tag's totals hold these requests alone.
    const tag = `cache-${mode.split ? "split" : mode.real ? "real" : "embedded"}-${Date.now()}`;
    Object.assign(provider.behavior, { cachedPromptTokens: 4, cacheWriteTokens: 2 });
    const message = await anthropic.messages
      .create({ model: "claude", max_tokens: 20, messages: [{ role: "user", content: "a long prompt worth caching" }] }, { headers: { "x-litellm-tags": tag } })
      .withResponse();
    const messageRow = await gateway.spendLog(message.response.headers.get("x-litellm-call-id")!);
    expect(messageRow["prompt_tokens"]).toBe(message.data.usage.input_tokens + 6);
    expect((messageRow["metadata"] as { usage_object: unknown }).usage_object).toEqual({
      prompt_tokens: message.data.usage.input_tokens + 6,
      completion_tokens: message.data.usage.output_tokens,
      total_tokens: message.data.usage.input_tokens + 6 + message.data.usage.output_tokens,
      prompt_tokens_details: { cached_tokens: 4 },
      cache_read_input_tokens: 4,
      cache_creation_input_tokens: 2,
    });

    // Two chats, each booked before the next is sent: the second adds to the day's cells the first made.
    Object.assign(provider.behavior, { cachedPromptTokens: 3, cacheWriteTokens: 0 });
    for (const content of ["another long prompt", "and one more"]) {
      const chat = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content }] }, { headers: { "x-litellm-tags": tag } }).withResponse();
      expect(chat.data.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
      const chatRow = await gateway.spendLog(chat.response.headers.get("x-litellm-call-id")!);
      expect((chatRow["metadata"] as { usage_object: CacheMetrics }).usage_object).toMatchObject({ cache_read_input_tokens: 3, cache_creation_input_tokens: 0 });
    }

    // Every key's activity: other tests in this file book more, so at least these.
    const all = await activity(`/user/daily/activity?${RANGE}`);
    expect(all.metadata.total_cache_read_input_tokens).toBeGreaterThanOrEqual(10);
    expect(all.metadata.total_cache_creation_input_tokens).toBeGreaterThanOrEqual(2);
    // The tag's: exactly these three requests, per day, per model group and per tag.
    const tagged = await activity(`/tag/daily/activity?tags=${tag}&${RANGE}`);
    expect(tagged.metadata).toMatchObject({ total_cache_read_input_tokens: 10, total_cache_creation_input_tokens: 2 });
    const [today] = tagged.results;
    expect(today!.metrics).toMatchObject({ cache_read_input_tokens: 10, cache_creation_input_tokens: 2 });
    expect(today!.breakdown.model_groups["claude"]!.metrics).toMatchObject({ cache_read_input_tokens: 4, cache_creation_input_tokens: 2 });
    expect(today!.breakdown.model_groups["gpt"]!.metrics).toMatchObject({ cache_read_input_tokens: 6, cache_creation_input_tokens: 0 });
    expect(today!.breakdown.entities[tag]!.metrics).toMatchObject({ cache_read_input_tokens: 10, cache_creation_input_tokens: 2 });
  });

  it("books 0 for a request whose provider reports no prompt cache", async () => {
    const { response } = await openai.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "nothing cached" }] }).withResponse();
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect((row["metadata"] as { usage_object: unknown }).usage_object).toMatchObject({ prompt_tokens_details: { cached_tokens: 0 }, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 });
  });
});
