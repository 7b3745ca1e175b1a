import { ConfigError, parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { CHAT_DEFAULTS, EMBEDDING_DEFAULTS, MESSAGES_DEFAULTS, RESPONSES_DEFAULTS, withCallDefaults } from "../src/call-defaults.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "../src/providers/index.js";

function groups(models: string): ModelGroups {
  return ModelGroups.fromConfig(parseConfig(`model_list:\n${models}`), SUPPORTED_PROVIDERS);
}

describe("a deployment's call parameters (litellm_params)", () => {
  const defaults = { temperature: 0.2, max_tokens: 300, top_k: 40, dimensions: 8, user: "cron" };

  it("fill what a chat request leaves unset, and never what it sets", () => {
    const body = { model: "m", messages: [], temperature: 0.9 };
    expect(withCallDefaults(body, defaults, CHAT_DEFAULTS)).toEqual({ model: "m", messages: [], temperature: 0.9, max_tokens: 300, top_k: 40, user: "cron" });
    // The request is not changed in place: a fallback to another deployment starts from it again.
    expect(body).toEqual({ model: "m", messages: [], temperature: 0.9 });
  });

  it("count max_tokens and max_completion_tokens as one limit", () => {
    expect(withCallDefaults({ max_completion_tokens: 50 }, { max_tokens: 300 }, CHAT_DEFAULTS)).toEqual({ max_completion_tokens: 50 });
    expect(withCallDefaults({ max_tokens: 50 }, { max_completion_tokens: 300 }, CHAT_DEFAULTS)).toEqual({ max_tokens: 50 });
    // A deployment that sets both sends the first it names, not both (OpenAI refuses a body with both).
    expect(withCallDefaults({}, { max_tokens: 300, max_completion_tokens: 200 }, CHAT_DEFAULTS)).toEqual({ max_tokens: 300 });
    expect(withCallDefaults({}, { max_completion_tokens: 200, max_tokens: 300 }, CHAT_DEFAULTS)).toEqual({ max_completion_tokens: 200 });
  });

  it("fill only what each call type's body has, by its own names", () => {
    expect(withCallDefaults({ input: "x" }, defaults, EMBEDDING_DEFAULTS)).toEqual({ input: "x", dimensions: 8, user: "cron" });
    expect(withCallDefaults({ messages: [] }, { ...defaults, stop: "END" }, MESSAGES_DEFAULTS)).toEqual({ messages: [], temperature: 0.2, max_tokens: 300, top_k: 40, stop_sequences: ["END"] });
    expect(withCallDefaults({ messages: [], stop_sequences: ["mine"] }, { stop: ["END"] }, MESSAGES_DEFAULTS)).toEqual({ messages: [], stop_sequences: ["mine"] });
    expect(withCallDefaults({ input: "x" }, { ...defaults, max_completion_tokens: 200, reasoning_effort: "low" }, RESPONSES_DEFAULTS)).toEqual({
      input: "x",
      temperature: 0.2,
      user: "cron",
      max_output_tokens: 300,
      reasoning: { effort: "low" },
    });
    // The Responses API's effort sits in reasoning, beside what the request put there.
    expect(withCallDefaults({ reasoning: { summary: "auto" } }, { reasoning_effort: "high" }, RESPONSES_DEFAULTS)).toEqual({ reasoning: { summary: "auto", effort: "high" } });
    const own = { reasoning: { effort: "minimal" } };
    expect(withCallDefaults(own, { reasoning_effort: "high" }, RESPONSES_DEFAULTS)).toBe(own);
    expect(withCallDefaults({ messages: [] }, { reasoning_effort: "high" }, MESSAGES_DEFAULTS)).toEqual({ messages: [] });
    expect(withCallDefaults({ input: "x", max_output_tokens: 9 }, defaults, RESPONSES_DEFAULTS)).toEqual({ input: "x", max_output_tokens: 9, temperature: 0.2, user: "cron" });
  });

  it("leave the body as it is, not copied, when there is nothing to add", () => {
    const body = { temperature: 1 };
    expect(withCallDefaults(body, undefined, CHAT_DEFAULTS)).toBe(body);
    expect(withCallDefaults(body, { temperature: 0 }, CHAT_DEFAULTS)).toBe(body);
  });

  it("are read from litellm_params at config load, headers in lower case", () => {
    const [d] = groups(`  - model_name: tuned
    litellm_params: { model: openai/gpt-4o-mini, api_key: sk-abcdefgh12345678, temperature: 0.3, stop: ["END"], organization: org-1, extra_headers: { X-Team: platform }, extra_body: { repetition_penalty: 1.1 }, rpm: 10 }
`).get("tuned")!;
    expect(d!.callDefaults).toEqual({ temperature: 0.3, stop: ["END"] });
    expect(d!.extraHeaders).toEqual({ "openai-organization": "org-1", "x-team": "platform" });
    expect(d!.extraBody).toEqual({ repetition_penalty: 1.1 });
    const [plain] = groups("  - { model_name: plain, litellm_params: { model: openai/gpt-4o-mini } }\n").get("plain")!;
    expect([plain!.callDefaults, plain!.extraHeaders, plain!.extraBody]).toEqual([undefined, undefined, undefined]);
  });

  it("are refused at load when the provider does not take them, unless the deployment drops what its provider lacks", () => {
    const gemini = groups("  - { model_name: g, litellm_params: { model: gemini/gemini-2.5-flash, logit_bias: { '50256': -100 } } }\n");
    expect(() => checkDeployments(gemini)).toThrow(ConfigError);
    expect(() => checkDeployments(gemini)).toThrow(/g \(deployment [0-9a-f]+\): litellm_params\.logit_bias: gemini does not take this parameter/);
    const claude = groups("  - { model_name: c, litellm_params: { model: anthropic/claude-3-5-haiku-20241022, seed: 1 } }\n");
    expect(() => checkDeployments(claude)).toThrow(/litellm_params\.seed: anthropic/);
    expect(() => checkDeployments(groups("  - { model_name: c, litellm_params: { model: anthropic/claude-3-5-haiku-20241022, seed: 1, drop_params: true } }\n"))).not.toThrow();
    expect(() => checkDeployments(groups("  - { model_name: c, litellm_params: { model: anthropic/claude-3-5-haiku-20241022, top_k: 5, temperature: 0.1 } }\n"))).not.toThrow();
    expect(() => checkDeployments(groups("  - { model_name: o, litellm_params: { model: openai/llama3, api_base: 'http://127.0.0.1:1/v1', top_k: 5 } }\n"))).not.toThrow();
  });
});
