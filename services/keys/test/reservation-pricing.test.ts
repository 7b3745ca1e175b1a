import { IMAGE_OUTPUT_TOKENS, parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ReservationPricing } from "../src/reservation-pricing.js";

const config = parseConfig(`
model_list:
  - model_name: cheap
    litellm_params: { model: openai/gpt-4o-mini }
    model_info: { max_output_tokens: 100 }
  - model_name: dear
    litellm_params: { model: openai/gpt-4o }
    model_info: { max_output_tokens: 100 }
  - model_name: middle
    litellm_params: { model: openai/gpt-4.1-mini }
    model_info: { max_output_tokens: 100 }
  - model_name: "openai/*"
    litellm_params: { model: "openai/*" }
  - model_name: capped
    litellm_params: { model: openai/gpt-4o, max_tokens: 50 }
    model_info: { max_output_tokens: 16384 }
litellm_settings:
  model_alias_map: { gpt-4-turbo: dear }
router_settings:
  fallbacks: [{ cheap: [middle] }]
  context_window_fallbacks: [{ middle: [dear] }]
  model_group_alias: { gpt-4: dear }
general_settings: { master_key: sk-x }
`);
const pricing = new ReservationPricing(config);
// gpt-4o: $2.50 in and $10 out per million tokens.
const gpt4o = (prompt: number, out: number) => prompt * 2.5e-6 + out * 10e-6;

describe("the most a request can cost", () => {
  it("covers the dearest group a request may fall back to, through chains of fallbacks", () => {
    expect(pricing.maxCost("cheap", 1000, 0)).toBeCloseTo(gpt4o(1000, 100), 12);
  });

  it("prices an alias as the group it names", () => {
    expect(pricing.maxCost("gpt-4", 10, 5)).toBeCloseTo(gpt4o(10, 5), 12);
    // Without max_tokens, at the group's max_output_tokens rather than the dearest model's.
    expect(pricing.maxCost("gpt-4-turbo", 10, 0)).toBeCloseTo(gpt4o(10, 100), 12);
  });

  it("prices a name only a wildcard answers at least at its list price", () => {
    expect(pricing.maxCost("openai/gpt-5", 1000, 10)).toBeGreaterThanOrEqual(1000 * 1.25e-6 + 10 * 10e-6);
  });

  it("counts the prompt once and the output once for each answer asked for", () => {
    expect(pricing.maxCost("dear", 10, 7, 3)).toBeCloseTo(gpt4o(10, 21), 12);
    expect(pricing.maxCost("capped", 10, 0, 4)).toBeCloseTo(gpt4o(10, 200), 12);
    expect(pricing.maxCost("dear", 10, 7, 0)).toBeCloseTo(gpt4o(10, 7), 12);
  });

  it("uses the request's max_tokens when it gives one", () => {
    expect(pricing.maxCost("dear", 0, 7)).toBeCloseTo(gpt4o(0, 7), 12);
  });

  it("bounds a request without max_tokens by the one its deployment sends for it", () => {
    expect(pricing.maxCost("capped", 10, 0)).toBeCloseTo(gpt4o(10, 50), 12);
    expect(pricing.maxCost("capped", 10, 400)).toBeCloseTo(gpt4o(10, 400), 12);
  });
});

describe("the most a prompt token can cost", () => {
  const claude = new ReservationPricing(
    parseConfig(`
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-sonnet-4-5 }
  - model_name: claude-priced
    litellm_params: { model: anthropic/claude-sonnet-4-5 }
    model_info: { cache_creation_input_token_cost_above_1hr: 0.00001 }
  - model_name: "anthropic/*"
    litellm_params: { model: "anthropic/*" }
general_settings: { master_key: sk-x }
`),
  );

  it("is a write to Anthropic's one-hour cache, at twice the input price", () => {
    // claude-sonnet-4-5: $3 input, so $6 a one-hour cache write, and $15 out per million.
    expect(claude.maxCost("claude", 1000, 10)).toBeCloseTo(1000 * 6e-6 + 10 * 15e-6, 12);
  });

  it("is the one-hour write price a deployment sets", () => {
    expect(claude.maxCost("claude-priced", 1000, 10)).toBeCloseTo(1000 * 10e-6 + 10 * 15e-6, 12);
  });

  it("is at the long-context rates only for a prompt that may pass 200,000 tokens", () => {
    // claude-sonnet-4-5 past 200,000 tokens: $6 input, so $12 a one-hour cache write, and $22.50 out per million.
    expect(claude.maxCost("claude", 200_000, 10)).toBeCloseTo(200_000 * 6e-6 + 10 * 15e-6, 12);
    expect(claude.maxCost("claude", 200_001, 10)).toBeCloseTo(200_001 * 12e-6 + 10 * 22.5e-6, 12);
  });

  it("covers a Claude model that only a wildcard answers, at its list price", () => {
    // claude-opus-4-1: $15 input, so $30 a one-hour cache write, and $75 out per million; dearer than any group here.
    expect(claude.maxCost("anthropic/claude-opus-4-1", 1000, 10)).toBeCloseTo(1000 * 30e-6 + 10 * 75e-6, 12);
  });

  it("is nothing for a name no group, alias or wildcard answers: the router refuses it before any call", () => {
    expect(claude.maxCost("claude-opus-4-1", 1000, 10)).toBe(0);
    expect(claude.maxCost("claud", 1000, 0)).toBe(0);
  });
});

describe("the most a request can cost, for models priced by their own units", () => {
  const units = new ReservationPricing(
    parseConfig(`
model_list:
  - model_name: dalle
    litellm_params: { model: openai/dall-e-3 }
  - model_name: local-images
    litellm_params: { model: openai/sdxl }
    model_info: { output_cost_per_image: 0.01 }
  - model_name: voice
    litellm_params: { model: openai/tts-1 }
  - model_name: azure-voice
    litellm_params: { model: azure/team-tts, api_base: "https://x.openai.azure.com" }
    model_info: { base_model: azure/tts-1-hd }
general_settings: { master_key: sk-x }
`),
  );

  it("is the dearest image for each one asked (n times the image tokens the edge reserves), at the list's price or the deployment's own", () => {
    // DALL·E 3's dearest image: HD at 1024x1792, $0.12.
    expect(units.maxCost("dalle", 300, 2 * IMAGE_OUTPUT_TOKENS)).toBeCloseTo(2 * 0.12, 12);
    expect(units.maxCost("local-images", 300, 3 * IMAGE_OUTPUT_TOKENS)).toBeCloseTo(3 * 0.01, 12);
  });

  it("is every byte of the body read aloud as a character, at TTS's price or its base_model's", () => {
    expect(units.maxCost("voice", 1000, 0)).toBeCloseTo(1000 * 15e-6, 12);
    expect(units.maxCost("azure-voice", 1000, 0)).toBeCloseTo(1000 * 30e-6, 12);
  });
});
