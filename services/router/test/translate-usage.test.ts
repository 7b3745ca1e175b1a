import { describe, expect, it } from "vitest";
import type { Json } from "../src/providers/provider.js";
import { chunksFromAnthropic } from "../src/translate/anthropic-response.js";
import { fromAnthropicUsage, fromOpenAIUsage, mergeAnthropicUsage, toAnthropicUsage, toOpenAIUsage } from "../src/translate/usage.js";

async function* events(...list: Json[]): AsyncGenerator<{ json: Json }> {
  for (const json of list) yield { json };
}

async function last<T>(items: AsyncIterable<T>): Promise<T | undefined> {
  let final: T | undefined;
  for await (const item of items) final = item;
  return final;
}

describe("cache writes by lifetime in Anthropic's usage", () => {
  it("takes the one-hour writes from the split Anthropic gives beside the total", () => {
    const usage = fromAnthropicUsage({
      input_tokens: 10,
      output_tokens: 5,
      cache_read_input_tokens: 20,
      cache_creation_input_tokens: 30,
      cache_creation: { ephemeral_5m_input_tokens: 12, ephemeral_1h_input_tokens: 18 },
    });
    expect(usage).toEqual({ promptTokens: 60, completionTokens: 5, cachedTokens: 20, cacheWriteTokens: 30, cacheWrite1hTokens: 18 });
  });

  it("counts every write as a five-minute one when the block has no split, as older responses do", () => {
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 30 })?.cacheWrite1hTokens).toBe(0);
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 30, cache_creation: null })?.cacheWrite1hTokens).toBe(0);
  });

  it("never counts more one-hour writes than writes", () => {
    const usage = fromAnthropicUsage({ input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 4, cache_creation: { ephemeral_1h_input_tokens: 9 } });
    expect(usage).toMatchObject({ cacheWriteTokens: 4, cacheWrite1hTokens: 4 });
  });

  it("keeps message_start's split when message_delta leaves it out, as a native stream is read", () => {
    const start = { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 12, ephemeral_1h_input_tokens: 18 } };
    const merged = mergeAnthropicUsage(mergeAnthropicUsage(undefined, start), { output_tokens: 7 });
    expect(fromAnthropicUsage(merged)).toMatchObject({ completionTokens: 7, cacheWriteTokens: 30, cacheWrite1hTokens: 18 });
  });

  it("gives the split back to a Messages client, and leaves it out when nothing was written", () => {
    const usage = { promptTokens: 60, completionTokens: 5, cachedTokens: 20, cacheWriteTokens: 30, cacheWrite1hTokens: 18 };
    expect(toAnthropicUsage(usage)).toEqual({
      input_tokens: 10,
      output_tokens: 5,
      cache_creation_input_tokens: 30,
      cache_read_input_tokens: 20,
      cache_creation: { ephemeral_5m_input_tokens: 12, ephemeral_1h_input_tokens: 18 },
    });
    expect(fromAnthropicUsage(toAnthropicUsage(usage))).toEqual(usage);
    expect(toAnthropicUsage({ ...usage, cacheWriteTokens: 0, cacheWrite1hTokens: 0 })).not.toHaveProperty("cache_creation");
  });
});

describe("cache writes by lifetime in OpenAI's usage", () => {
  it("survives a chat stream from Anthropic, whose closing usage chunk the router prices", async () => {
    const chunk = await last(
      chunksFromAnthropic(
        events(
          {
            type: "message_start",
            message: {
              id: "msg_1",
              model: "claude-x",
              usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 12, ephemeral_1h_input_tokens: 18 } },
            },
          },
          { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
          { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } },
          { type: "content_block_stop", index: 0 },
          { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } },
          { type: "message_stop" },
        ),
      ),
    );
    expect(chunk?.json["usage"]).toMatchObject({
      prompt_tokens: 40,
      cache_creation_input_tokens: 30,
      prompt_tokens_details: { cache_creation_tokens: 30, cache_creation_token_details: { ephemeral_5m_input_tokens: 12, ephemeral_1h_input_tokens: 18 } },
    });
    expect(fromOpenAIUsage(chunk?.json["usage"])).toEqual({ promptTokens: 40, completionTokens: 3, cachedTokens: 0, cacheWriteTokens: 30, cacheWrite1hTokens: 18 });
  });

  it("reads LiteLLM's top-level cache_creation_input_tokens when the details leave it out", () => {
    expect(fromOpenAIUsage({ prompt_tokens: 40, completion_tokens: 3, cache_creation_input_tokens: 30 })).toMatchObject({ cacheWriteTokens: 30, cacheWrite1hTokens: 0 });
  });

  it("reads the dollars OpenRouter (usage.cost) and Perplexity (usage.cost.total_cost) report, and nothing that is not a price", () => {
    const tokens = { prompt_tokens: 40, completion_tokens: 3 };
    expect(fromOpenAIUsage({ ...tokens, cost: 0.00042 })?.reportedCost).toBe(0.00042);
    expect(fromOpenAIUsage({ ...tokens, cost: { input_tokens_cost: 0.001, output_tokens_cost: 0.002, request_cost: 0.005, total_cost: 0.008 } })?.reportedCost).toBe(0.008);
    for (const cost of [-1, "0.1", null, { total: 1 }, Number.NaN]) expect(fromOpenAIUsage({ ...tokens, cost })).not.toHaveProperty("reportedCost");
  });

  it("reads OpenAI's own usage as before: no writes", () => {
    const usage = { prompt_tokens: 40, completion_tokens: 3, total_tokens: 43, prompt_tokens_details: { cached_tokens: 8 } };
    expect(fromOpenAIUsage(usage)).toEqual({ promptTokens: 40, completionTokens: 3, cachedTokens: 8, cacheWriteTokens: 0, cacheWrite1hTokens: 0 });
    expect(toOpenAIUsage(fromOpenAIUsage(usage)!)).toEqual(usage);
  });
});
