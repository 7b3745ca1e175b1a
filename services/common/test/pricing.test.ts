import { describe, expect, it } from "vitest";
import { characterPrice, costOf, deploymentPrice, ignoredSettings, imagePrice, imageTokenCost, listPrice, parseConfig, providerPrice, transcriptionCost, unpricedModels } from "../src/index.js";

const PER_MILLION = 1e-6;

describe("the price of a write to Anthropic's one-hour cache", () => {
  it("lists at twice the input price for a Claude model, beside the five-minute write at 1.25 times", () => {
    const price = listPrice("claude-sonnet-4-5-20250929");
    expect(price.cacheWrite).toBeCloseTo(3.75 * PER_MILLION, 15);
    expect(price.cacheWrite1h).toBeCloseTo(6 * PER_MILLION, 15);
  });

  it("is the input price for a model without cache-write pricing, like any other cache write", () => {
    expect(listPrice("gpt-4o").cacheWrite1h).toBeCloseTo(2.5 * PER_MILLION, 15);
    expect(listPrice("my-local-model").cacheWrite1h).toBe(0);
  });

  it("keeps its ratio to an overridden input price", () => {
    const price = deploymentPrice("claude-3-5-haiku-20241022", { input_cost_per_token: 2 * PER_MILLION });
    expect(price.cacheWrite).toBeCloseTo(2.5 * PER_MILLION, 15);
    expect(price.cacheWrite1h).toBeCloseTo(4 * PER_MILLION, 15);
  });

  it("takes LiteLLM's cache prices from model_info or litellm_params, model_info first", () => {
    const modelInfo = { cache_creation_input_token_cost_above_1hr: 9 * PER_MILLION, cache_read_input_token_cost: 0.2 * PER_MILLION };
    const params = { cache_creation_input_token_cost_above_1hr: 7 * PER_MILLION, cache_creation_input_token_cost: 4 * PER_MILLION };
    const price = deploymentPrice("claude-sonnet-4-5-20250929", modelInfo, params);
    expect(price).toMatchObject({ input: 3 * PER_MILLION, output: 15 * PER_MILLION });
    expect(price.cacheWrite1h).toBeCloseTo(9 * PER_MILLION, 15);
    expect(price.cacheWrite).toBeCloseTo(4 * PER_MILLION, 15);
    expect(price.cachedInput).toBeCloseTo(0.2 * PER_MILLION, 15);
  });

  it("is never below the five-minute write price a deployment sets", () => {
    const price = deploymentPrice("my-claude-proxy", { input_cost_per_token: 1 * PER_MILLION, cache_creation_input_token_cost: 1.5 * PER_MILLION });
    expect(price.cacheWrite1h).toBeCloseTo(1.5 * PER_MILLION, 15);
  });
});

describe("the cost of a call with cache writes", () => {
  const price = listPrice("claude-sonnet-4-5-20250929");
  const usage = { promptTokens: 1000, completionTokens: 100, cachedTokens: 600, cacheWriteTokens: 300, cacheWrite1hTokens: 0 };

  it("charges each kind of prompt token at its own price", () => {
    // 100 uncached at $3, 600 read at $0.30, 300 five-minute writes at $3.75, 100 out at $15 per million.
    expect(costOf(price, usage)).toBeCloseTo(0.0003 + 0.00018 + 0.001125 + 0.0015, 15);
  });

  it("charges the one-hour part of the writes at the one-hour price", () => {
    // 200 of the 300 writes now cost $6 per million instead of $3.75.
    expect(costOf(price, { ...usage, cacheWrite1hTokens: 200 })).toBeCloseTo(0.0003 + 0.00018 + 0.000375 + 0.0012 + 0.0015, 15);
  });
});

describe("cache prices in config.yaml", () => {
  it("are read from model_info and litellm_params, and not named as ignored settings", () => {
    const config = parseConfig(`
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5, cache_creation_input_token_cost: 0.000004, cache_read_input_token_cost: 0.0000002 }
    model_info: { cache_creation_input_token_cost_above_1hr: 0.000009 }
general_settings: { master_key: sk-x }
`);
    const entry = config.model_list[0]!;
    expect(entry.litellm_params.cache_creation_input_token_cost).toBe(0.000004);
    expect(entry.model_info?.cache_creation_input_token_cost_above_1hr).toBe(0.000009);
    expect(ignoredSettings(config)).toEqual([]);
  });

  it("refuses a negative price", () => {
    expect(() => parseConfig(`model_list:\n  - model_name: c\n    litellm_params: { model: anthropic/claude-sonnet-4-5 }\n    model_info: { cache_creation_input_token_cost_above_1hr: -1 }\n`)).toThrow(
      "cache_creation_input_token_cost_above_1hr",
    );
  });
});

describe("the list and what it does not know", () => {
  it("prices Claude Opus from 4.5 on at its own rate, not at the older Opus 4's", () => {
    for (const model of ["claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8"]) expect(listPrice(model)).toMatchObject({ input: 5 * PER_MILLION, output: 25 * PER_MILLION });
    expect(listPrice("claude-opus-4-20250514")).toMatchObject({ input: 15 * PER_MILLION, output: 75 * PER_MILLION });
  });

  it("names the deployments booked at no cost, leaving out fixed answers, wildcards, moderation models and deployments with prices of their own", () => {
    const config = parseConfig(`
model_list:
  - { model_name: known, litellm_params: { model: openai/gpt-4o-mini } }
  - { model_name: local, litellm_params: { model: openai/llama3.1, api_base: "http://127.0.0.1:11434/v1" } }
  - { model_name: own-price, litellm_params: { model: openai/llama3.1, input_cost_per_token: 0.000001 } }
  - { model_name: free-on-purpose, litellm_params: { model: openai/llama3.1 }, model_info: { input_cost_per_token: 0, output_cost_per_token: 0 } }
  - { model_name: demo, litellm_params: { model: openai/gpt-x, mock_response: hi } }
  - { model_name: "openai/*", litellm_params: { model: "openai/*" } }
  - { model_name: routed, litellm_params: { model: openrouter/some-lab/new-model } }
  - { model_name: search, litellm_params: { model: perplexity/sonar-pro } }
  - { model_name: images, litellm_params: { model: openai/dall-e-3 } }
  - { model_name: voice, litellm_params: { model: openai/tts-1-hd } }
  - { model_name: ears, litellm_params: { model: azure/team-whisper }, model_info: { base_model: azure/whisper-1 } }
  - { model_name: omni-moderation-latest, litellm_params: { model: openai/omni-moderation-latest }, model_info: { mode: moderation } }
`);
    expect(unpricedModels(config.model_list)).toEqual(["local (openai/llama3.1)"]);
    // The list prices no moderation model, so a key reserves nothing for one.
    expect(listPrice("omni-moderation-latest")).toMatchObject({ input: 0, output: 0, cacheWrite: 0 });
  });
});

describe("long-context rates", () => {
  const usage = (promptTokens: number) => ({ promptTokens, completionTokens: 1000, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 });

  it("price every token of a prompt past 200,000 tokens at the long-context rates, as Anthropic and Google bill them", () => {
    const sonnet = listPrice("claude-sonnet-4-5-20250929");
    expect(costOf(sonnet, usage(200_000))).toBeCloseTo((200_000 * 3 + 1000 * 15) * PER_MILLION, 12);
    expect(costOf(sonnet, usage(200_001))).toBeCloseTo((200_001 * 6 + 1000 * 22.5) * PER_MILLION, 12);
    expect(costOf(listPrice("gemini-2.5-pro"), usage(300_000))).toBeCloseTo((300_000 * 2.5 + 1000 * 15) * PER_MILLION, 12);
    // A model with one rate keeps it.
    expect(costOf(listPrice("gpt-4.1"), usage(300_000))).toBeCloseTo((300_000 * 2 + 1000 * 8) * PER_MILLION, 12);
  });

  it("take LiteLLM's above_200k_tokens prices, and keep the list's proportion to an overridden base price", () => {
    const own = deploymentPrice("my-model", { input_cost_per_token: 1 * PER_MILLION, input_cost_per_token_above_200k_tokens: 3 * PER_MILLION });
    expect(costOf(own, usage(250_000))).toBeCloseTo(250_000 * 3 * PER_MILLION, 12);
    const discounted = deploymentPrice("gemini-3-pro-preview", { input_cost_per_token: 1 * PER_MILLION, output_cost_per_token: 6 * PER_MILLION });
    expect(discounted.longContext).toMatchObject({ input: expect.closeTo(2 * PER_MILLION, 15), output: expect.closeTo(9 * PER_MILLION, 15) });
  });
});

describe("searches a provider runs itself", () => {
  it("cost $10 per thousand on Claude models, beside the tokens, and nothing where the list has no search price", () => {
    const usage = { promptTokens: 1000, completionTokens: 100, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, webSearches: 2 };
    expect(costOf(listPrice("claude-haiku-4-5"), usage)).toBeCloseTo((1000 * 1 + 100 * 5) * PER_MILLION + 0.02, 12);
    expect(costOf(deploymentPrice("claude-haiku-4-5", { input_cost_per_token: 0 }), usage)).toBeCloseTo(100 * 5 * PER_MILLION + 0.02, 12);
    expect(costOf(listPrice("gpt-4o-mini"), usage)).toBeCloseTo((1000 * 0.15 + 100 * 0.6) * PER_MILLION, 12);
  });
});

describe("a cost the provider reports", () => {
  const usage = { promptTokens: 1000, completionTokens: 100, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reportedCost: 0.0123 };
  const { reportedCost: _, ...unreported } = usage;

  it("is what OpenRouter's and Perplexity's calls are booked at, over the list price of their model", () => {
    expect(costOf(providerPrice("openrouter", "gpt-4o-mini"), usage)).toBe(0.0123);
    expect(costOf(providerPrice("perplexity", "sonar-pro"), usage)).toBe(0.0123);
    expect(costOf(providerPrice("openrouter", "gpt-4o-mini"), unreported)).toBeCloseTo((1000 * 0.15 + 100 * 0.6) * PER_MILLION, 12);
  });

  it("gives way to the prices a deployment sets, and counts for nothing from a provider not known to report dollars", () => {
    expect(costOf(providerPrice("openrouter", "some-lab/model", { input_cost_per_token: 1e-6 }), usage)).toBeCloseTo(1000 * 1e-6, 12);
    expect(costOf(providerPrice("openai", "gpt-4o-mini"), usage)).toBeCloseTo((1000 * 0.15 + 100 * 0.6) * PER_MILLION, 12);
    expect(costOf(providerPrice("hosted_vllm", "llama3.1"), usage)).toBe(0);
  });
});

describe("models priced by other units than tokens", () => {
  it("price DALL·E by the image at its quality and size, defaulting as OpenAI does, and know nothing of other sizes", () => {
    expect(imagePrice("dall-e-3", undefined, undefined)).toBe(0.04);
    expect(imagePrice("dall-e-3", "hd", "1024x1792")).toBe(0.12);
    expect(imagePrice("dall-e-2", undefined, "256x256")).toBe(0.016);
    expect(imagePrice("dall-e-3", "standard", "640x480")).toBeUndefined();
    expect(imagePrice("gpt-image-1", "high", "1024x1024")).toBeUndefined();
  });

  it("price GPT Image by the prompt's text, the images given and the images written, each at its own rate", () => {
    const tokens = { text: 100, image: 323, output: 1056 };
    expect(imageTokenCost("gpt-image-1", tokens)).toBeCloseTo((100 * 5 + 323 * 10 + 1056 * 40) * PER_MILLION, 12);
    expect(imageTokenCost("gpt-image-1-mini", tokens)).toBeCloseTo((100 * 2 + 323 * 2.5 + 1056 * 8) * PER_MILLION, 12);
    expect(imageTokenCost("dall-e-3", tokens)).toBeUndefined();
  });

  it("price TTS by the character, and transcription by the second (Whisper) or by each kind of token (GPT-4o)", () => {
    expect(characterPrice("tts-1")).toBeCloseTo(15 * PER_MILLION, 15);
    expect(characterPrice("tts-1-hd-1106")).toBeCloseTo(30 * PER_MILLION, 15);
    expect(characterPrice("gpt-4o-mini-tts")).toBeUndefined();
    const used = { seconds: 90, audioTokens: 1000, textTokens: 100, outputTokens: 50 };
    expect(transcriptionCost("whisper-1", used)).toBeCloseTo(0.009, 12);
    expect(transcriptionCost("gpt-4o-mini-transcribe", used)).toBeCloseTo((1000 * 3 + 100 * 1.25 + 50 * 5) * PER_MILLION, 12);
    expect(transcriptionCost("gpt-4o-2024-08-06", used)).toBeUndefined();
  });

  it("book what the handler priced instead of the tokens' price", () => {
    const usage = { promptTokens: 1000, completionTokens: 100, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, unitCost: 0.5 };
    expect(costOf(listPrice("gpt-4o"), usage)).toBe(0.5);
  });
});
