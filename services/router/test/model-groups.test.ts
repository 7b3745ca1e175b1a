import { ConfigError, listPrice, parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";

function groups(yaml: string): ModelGroups {
  return ModelGroups.fromConfig(parseConfig(yaml), SUPPORTED_PROVIDERS);
}

describe("model groups from model_list and router_settings", () => {
  it("groups entries sharing a model_name and reads rpm, tpm, weight, order, timeouts and model_info", () => {
    const g = groups(`
model_list:
  - model_name: fast
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://a/v1", rpm: 60, tpm: 1000, weight: 2, order: 1, timeout: 5, stream_timeout: 9, api_version: "2024-10-21" }
    model_info: { id: a, input_cost_per_token: 0.001, output_cost_per_token: 0.002, max_tokens: 77, mode: chat }
  - model_name: fast
    litellm_params: { model: gpt-4o, api_base: "http://b/v1" }
    model_info: { id: b }
router_settings: { timeout: 12 }
`);
    const [a, b] = g.resolve("fast")!.deployments;
    expect(a).toMatchObject({ id: "a", rpm: 60, tpm: 1000, weight: 2, order: 1, timeoutMs: 5000, streamTimeoutMs: 9000, apiVersion: "2024-10-21", mode: "chat" });
    expect(a?.price).toMatchObject({ input: 0.001, output: 0.002 });
    // No provider prefix: OpenAI, as in LiteLLM; router_settings.timeout is the default; no order comes after every order.
    expect(b).toMatchObject({ id: "b", provider: "openai", providerModel: "gpt-4o", timeoutMs: 12_000, order: Number.POSITIVE_INFINITY });
    expect(g.resolve("fast")!.weighting).toBe("weight");
    // A first attempt picks among the lowest order.
    expect(g.resolve("fast")!.firstChoice.map((d) => d.id)).toEqual(["a"]);
  });

  it("prices a freely named deployment as its model_info.base_model, as LiteLLM does for Azure", () => {
    const g = groups(`
model_list:
  - model_name: smart
    litellm_params: { model: azure/prod-eu-deployment, api_base: "http://a", api_version: "2024-10-21" }
    model_info: { id: named, base_model: azure/gpt-4o }
  - model_name: smart
    litellm_params: { model: azure/prod-us-deployment, api_base: "http://b", api_version: "2024-10-21" }
    model_info: { id: overridden, base_model: gpt-4o, input_cost_per_token: 0.001 }
`);
    const [named, overridden] = g.resolve("smart")!.deployments;
    // gpt-4o's list price, not the nothing an unknown model name costs; a deployment's own price still wins.
    const gpt4o = listPrice("gpt-4o");
    expect(gpt4o.input).toBeGreaterThan(0);
    expect(named?.price).toMatchObject({ input: gpt4o.input, output: gpt4o.output });
    expect(overridden?.price).toMatchObject({ input: 0.001, output: gpt4o.output });
  });

  it("answers wildcard names with the matched model, preferring exact names and then the most specific pattern", () => {
    const g = groups(`
model_list:
  - { model_name: "openai/*", litellm_params: { model: "openai/*", api_base: "http://a/v1" }, model_info: { id: openai-any } }
  - { model_name: "*", litellm_params: { model: "openai/*", api_base: "http://b/v1" }, model_info: { id: catch-all } }
  - { model_name: "openai/gpt-4o", litellm_params: { model: "openai/gpt-4o", api_base: "http://c/v1" }, model_info: { id: exact } }
`);
    expect(g.resolve("openai/gpt-4o")!.deployments.map((d) => d.id)).toEqual(["exact"]);
    const wild = g.resolve("openai/gpt-4.1-mini")!.deployments[0]!;
    expect(wild).toMatchObject({ id: "openai-any", providerModel: "gpt-4.1-mini", modelGroup: "openai/gpt-4.1-mini" });
    // Priced as the concrete model: gpt-4.1-mini's list price.
    expect(wild.price.input).toBeCloseTo(0.4e-6, 12);
    expect(g.resolve("llama3")!.deployments[0]).toMatchObject({ id: "catch-all", providerModel: "llama3" });
  });

  it("resolves model_group_alias and lists the aliases that are not hidden", () => {
    const g = groups(`
model_list:
  - { model_name: fast, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://a/v1" } }
router_settings:
  model_group_alias: { gpt-4: fast, secret-name: { model: fast, hidden: true } }
`);
    expect(g.resolve("gpt-4")?.name).toBe("fast");
    expect(g.resolve("secret-name")?.name).toBe("fast");
    expect(g.listed()).toEqual(["fast", "gpt-4"]);
  });

  it("resolves litellm_settings.model_alias_map without listing it, model_group_alias winning for a name both have", () => {
    const g = groups(`
model_list:
  - { model_name: fast, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://a/v1" } }
  - { model_name: smart, litellm_params: { model: openai/gpt-4o, api_base: "http://a/v1" } }
litellm_settings:
  model_alias_map: { gpt-3.5-turbo: fast, gpt-4: fast, smart: fast }
router_settings:
  model_group_alias: { gpt-4: smart }
`);
    expect(g.resolve("gpt-3.5-turbo")?.name).toBe("fast");
    expect(g.resolve("gpt-4")?.name).toBe("smart");
    expect(g.resolve("smart")?.name).toBe("fast");
    expect(g.listed()).toEqual(["fast", "smart", "gpt-4"]);
  });

  it("refuses an alias to a group that does not exist, and an unknown routing strategy", () => {
    expect(() =>
      groups(`
model_list:
  - { model_name: fast, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://a/v1" } }
router_settings: { model_group_alias: { gpt-4: nope } }
`),
    ).toThrow(ConfigError);
    expect(() => groups(`litellm_settings: { model_alias_map: { gpt-4: nope } }`)).toThrow('litellm_settings.model_alias_map.gpt-4: no model group is named "nope"');
    expect(() => parseConfig(`router_settings: { routing_strategy: fastest-please }`)).toThrow(/routing_strategy/);
  });

  it("refuses a provider it does not speak, naming the field and how to reach an OpenAI-compatible server instead", () => {
    const watsonx = () => groups(`model_list:\n  - { model_name: granite, litellm_params: { model: watsonx/ibm/granite-13b-chat-v2, api_base: "http://localhost:8080" } }\n`);
    expect(watsonx).toThrow(ConfigError);
    expect(watsonx).toThrow(/model_list\[0\]\.litellm_params\.model: provider "watsonx" is not supported .*write openai\/<its model name> with its api_base/);
  });

  it("takes a model without a provider prefix as OpenAI's, unless LiteLLM knows its family as another provider's", () => {
    const g = groups(`model_list:
  - { model_name: a, litellm_params: { model: gpt-4o-mini } }
  - { model_name: b, litellm_params: { model: claude-3-opus-20240229, api_key: sk-ant-x } }
  - { model_name: c, litellm_params: { model: command-r, api_key: co-x } }
  - { model_name: d, litellm_params: { model: mistral-large-latest, api_key: m-x } }
  - { model_name: e, litellm_params: { model: deepseek-chat, api_key: d-x } }
  - { model_name: f, litellm_params: { model: grok-3, api_key: x-x } }
`);
    expect(["a", "b", "c", "d", "e", "f"].map((name) => g.resolve(name)!.deployments[0]!.provider)).toEqual(["openai", "anthropic", "cohere", "mistral", "deepseek", "xai"]);
    expect(g.resolve("b")!.deployments[0]!.providerModel).toBe("claude-3-opus-20240229");
    expect(() => groups(`model_list:\n  - { model_name: g, litellm_params: { model: gemini-1.5-pro } }\n`)).toThrow(
      'model_list[0].litellm_params.model: "gemini-1.5-pro" names no provider: write gemini/gemini-1.5-pro (Google AI Studio, GEMINI_API_KEY) or vertex_ai/gemini-1.5-pro (Vertex AI)',
    );
  });

  it("tells fallbacks to names nothing answers, whichever list they are in", () => {
    const g = groups(`model_list:
  - { model_name: a, litellm_params: { model: openai/gpt-4o, api_base: "http://a/v1" } }
  - { model_name: "b/*", litellm_params: { model: "openai/*", api_base: "http://b/v1" } }
router_settings:
  model_group_alias: { alias-of-a: a }
  fallbacks: [{ a: [alias-of-a, b/x, my-specific-model-id] }]
  context_window_fallbacks: [{ a: [bigger] }]
  default_fallbacks: [a, gone]
`);
    expect(g.unknownFallbacks()).toEqual(["a → my-specific-model-id", "a → bigger", "* → gone"]);
  });

  it("reads fallbacks and retry settings from router_settings, else from litellm_settings (the seed's form)", () => {
    const fromLitellm = groups(`
litellm_settings: { fallbacks: [{ a: [b, c] }], num_retries: 3, allowed_fails: 1, cooldown_time: 30 }
`).settings;
    expect(fromLitellm).toMatchObject({ numRetries: 3, allowedFails: 1, cooldownMs: 30_000 });
    expect(fromLitellm.fallbacks.get("a")).toEqual(["b", "c"]);
    const fromRouter = groups(`
litellm_settings: { fallbacks: [{ a: [b] }], num_retries: 3 }
router_settings:
  routing_strategy: least-busy
  num_retries: 1
  retry_after: 2
  fallbacks: [{ a: [c] }]
  context_window_fallbacks: [{ a: [big] }]
  content_policy_fallbacks: [{ a: [lenient] }]
  default_fallbacks: [safe]
`).settings;
    expect(fromRouter).toMatchObject({ strategy: "least-busy", numRetries: 1, retryAfterMs: 2000, defaultFallbacks: ["safe"] });
    expect(fromRouter.fallbacks.get("a")).toEqual(["c"]);
    expect(fromRouter.contextWindowFallbacks.get("a")).toEqual(["big"]);
    expect(fromRouter.contentPolicyFallbacks.get("a")).toEqual(["lenient"]);
  });
});
