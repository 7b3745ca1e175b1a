import { parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { fitParams } from "../src/translate/params.js";

const supported = new Set(["model", "messages", "temperature"]);

describe("drop_params", () => {
  it("passes a body the provider fully takes unchanged, and everything when the provider speaks OpenAI", () => {
    const body = { model: "m", messages: [], temperature: 1 };
    expect(fitParams(body, supported, false, "anthropic")).toBe(body);
    const extra = { ...body, logit_bias: {} };
    expect(fitParams(extra, undefined, false, "openai")).toBe(extra);
  });

  it("refuses an unsupported parameter with a 400 naming it, unless drop_params drops it", () => {
    const body = { model: "m", messages: [], seed: 3 };
    expect(() => fitParams(body, supported, false, "anthropic")).toThrow(expect.objectContaining({ rawMessage: expect.stringContaining('"seed"') }));
    expect(fitParams(body, supported, true, "anthropic")).toEqual({ model: "m", messages: [] });
    expect(body).toHaveProperty("seed");
  });

  it("drops explicit defaults silently: null values, n = 1 and parallel_tool_calls = true", () => {
    expect(fitParams({ model: "m", n: 1, seed: null, parallel_tool_calls: true }, supported, false, "gemini")).toEqual({ model: "m" });
    expect(() => fitParams({ model: "m", n: 2 }, supported, false, "anthropic")).toThrow(/"n"/);
    expect(() => fitParams({ model: "m", parallel_tool_calls: false }, supported, false, "gemini")).toThrow(/"parallel_tool_calls"/);
  });
});

describe("drop_params in config.yaml", () => {
  it("comes from litellm_settings, and a deployment's own setting wins", () => {
    const groups = ModelGroups.fromConfig(
      parseConfig(`
model_list:
  - { model_name: a, litellm_params: { model: anthropic/claude-x } }
  - { model_name: b, litellm_params: { model: anthropic/claude-x, drop_params: false } }
litellm_settings: { drop_params: true }
`),
      SUPPORTED_PROVIDERS,
    );
    expect([groups.get("a")![0]!.dropParams, groups.get("b")![0]!.dropParams]).toEqual([true, false]);
  });
});
