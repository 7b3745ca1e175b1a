import { describe, expect, it } from "vitest";
import { decodeModelPrices, encodeModelPrices, parseConfig, parseModelEntry } from "../src/index.js";

describe("the model list sent to the keys service for budget reservations", () => {
  const config = parseConfig(`
model_list:
  - model_name: fast
    litellm_params: { model: openai/gpt-4o-mini, api_key: sk-provider-secret-0123456789, api_base: "http://10.0.0.7:8000/v1" }
    model_info: { max_output_tokens: 2000 }
litellm_settings:
  fallbacks: [{ fast: [smart] }]
  model_alias_map: { gpt-3.5-turbo: fast }
router_settings:
  model_group_alias: { gpt-4: fast }
general_settings:
  master_key: sk-master-secret-0123456789
`);
  const added = parseModelEntry(
    { model_name: "smart", litellm_params: { model: "openai/gpt-4o", input_cost_per_token: 0.001, max_tokens: 700, extra_headers: { "x-proxy-token": "proxy-secret" } }, model_info: { id: "smart-1" } },
    "added",
    new Map(),
  );
  const claude = parseModelEntry(
    { model_name: "claude", litellm_params: { model: "anthropic/claude-sonnet-4-5", api_key: "sk-ant-secret", cache_creation_input_token_cost_above_1hr: 0.00001 } },
    "added",
    new Map(),
  );

  it("carries models, prices, fallbacks and aliases, and no keys or addresses", () => {
    const bytes = encodeModelPrices(config, [added, claude]);
    const text = new TextDecoder().decode(bytes);
    expect(text).not.toMatch(/secret|10\.0\.0\.7/);
    const decoded = decodeModelPrices(bytes);
    expect(decoded.model_list.map((e) => [e.model_name, e.litellm_params.model, e.litellm_params.input_cost_per_token])).toEqual([
      ["fast", "openai/gpt-4o-mini", undefined],
      ["smart", "openai/gpt-4o", 0.001],
      ["claude", "anthropic/claude-sonnet-4-5", undefined],
    ]);
    expect(decoded.model_list[2]?.litellm_params.cache_creation_input_token_cost_above_1hr).toBe(0.00001);
    expect(decoded.model_list[0]?.model_info?.max_output_tokens).toBe(2000);
    // A request without max_tokens gets the deployment's: its reservation needs it.
    expect(decoded.model_list[1]?.litellm_params.max_tokens).toBe(700);
    expect(decoded.litellm_settings.fallbacks).toEqual([{ fast: ["smart"] }]);
    expect(decoded.router_settings.model_group_alias).toEqual({ "gpt-4": "fast" });
    expect(decoded.litellm_settings.model_alias_map).toEqual({ "gpt-3.5-turbo": "fast" });
  });
});
