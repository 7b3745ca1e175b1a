import { parseConfig } from "@gateway/common";
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
  });

  it("prices a name only a wildcard answers at least at its list price", () => {
    expect(pricing.maxCost("openai/gpt-5", 1000, 10)).toBeGreaterThanOrEqual(1000 * 1.25e-6 + 10 * 10e-6);
  });

  it("uses the request's max_tokens when it gives one", () => {
    expect(pricing.maxCost("dear", 0, 7)).toBeCloseTo(gpt4o(0, 7), 12);
  });
});
