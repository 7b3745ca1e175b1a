import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM reads a provider's standard variables for what a deployment leaves
// out (OPENAI_API_KEY, ANTHROPIC_API_BASE, …): configs that name no key work
// as they do there, except that a key from the environment is never sent to
// an api_base the deployment names itself.
const VARIABLES = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORGANIZATION", "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE", "GROQ_API_KEY", "GROQ_API_BASE", "FIREWORKS_API_KEY", "FIREWORKS_API_BASE", "OLLAMA_API_KEY"];

// The variables point at the fake provider, whose address is known only once it runs: set here, as the config is written.
const config = (url: string) => {
  Object.assign(process.env, {
    OPENAI_API_KEY: PROVIDER_KEY,
    OPENAI_BASE_URL: `${url}/v1`,
    OPENAI_ORGANIZATION: "org-from-env",
    ANTHROPIC_API_KEY: PROVIDER_KEY,
    ANTHROPIC_API_BASE: url,
    GROQ_API_KEY: PROVIDER_KEY,
    GROQ_API_BASE: `${url}/v1`,
    FIREWORKS_API_KEY: PROVIDER_KEY,
    FIREWORKS_API_BASE: `${url}/v1`,
    OLLAMA_API_KEY: PROVIDER_KEY,
  });
  return writeConfig(`
model_list:
  - model_name: env-gpt
    litellm_params: { model: openai/gpt-4o-mini }
  - model_name: env-claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022 }
  - model_name: env-groq
    litellm_params: { model: groq/llama-3.1-8b-instant }
  - model_name: env-fireworks
    litellm_params: { model: fireworks_ai/llama-v3p1-8b-instruct }
  - model_name: fireworks-tuned
    litellm_params: { model: fireworks_ai/accounts/acme/models/tuned-1 }
  - model_name: local-ollama
    litellm_params: { model: ollama/llama3, api_base: "${url}" }
  - model_name: own-server
    litellm_params: { model: openai/llama3, api_base: "${url}/v1" }
  - model_name: env-instruct
    litellm_params: { model: text-completion-openai/gpt-3.5-turbo-instruct }
general_settings:
  master_key: ${MASTER_KEY}
`);
};

describe(`provider settings from the environment, ${MODES[0]!.name}`, () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(MODES[0]!, config, (setup) => ({ provider, gateway, openai } = setup));
  afterAll(() => {
    for (const name of VARIABLES) delete process.env[name];
  });

  it("call an openai/ deployment without api_key or api_base with OPENAI_API_KEY at OPENAI_BASE_URL, as its organization", async () => {
    const answer = await openai.chat.completions.create({ model: "env-gpt", messages: [{ role: "user", content: "hi" }] });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    expect(provider.requests.at(-1)!.headers).toMatchObject({ authorization: `Bearer ${PROVIDER_KEY}`, "openai-organization": "org-from-env" });
  });

  it("call an anthropic/ deployment with ANTHROPIC_API_KEY at ANTHROPIC_API_BASE", async () => {
    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "env-claude", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    expect(message.content[0]).toMatchObject({ type: "text" });
    expect(provider.requests.at(-1)!.headers["x-api-key"]).toBe(PROVIDER_KEY);
  });

  it("call a provider LiteLLM knows as OpenAI-compatible by its prefix, booked under its name", async () => {
    const { data, response } = await openai.chat.completions.create({ model: "env-groq", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(data.choices[0]!.message.content).toBeTruthy();
    const sent = provider.requests.at(-1)!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body).toMatchObject({ model: "llama-3.1-8b-instant" });
    expect(sent.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ model: "llama-3.1-8b-instant", custom_llm_provider: "groq" });
  });

  it("call OpenAI's text completions under LiteLLM's text-completion-openai prefix, with OPENAI_API_KEY at OPENAI_BASE_URL", async () => {
    const { data, response } = await openai.completions.create({ model: "env-instruct", prompt: "hi" }).withResponse();
    expect(data.choices[0]!.text).toBeTruthy();
    const sent = provider.requests.at(-1)!;
    expect(sent.path).toBe("/v1/completions");
    expect(sent.body).toMatchObject({ model: "gpt-3.5-turbo-instruct" });
    expect(sent.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ model: "gpt-3.5-turbo-instruct", custom_llm_provider: "text-completion-openai" });
  });

  it("call Fireworks with its full model names, adding its own account to a bare one", async () => {
    for (const [group, model] of [
      ["env-fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct"],
      ["fireworks-tuned", "accounts/acme/models/tuned-1"],
    ] as const) {
      const { response } = await openai.chat.completions.create({ model: group, messages: [{ role: "user", content: "hi" }] }).withResponse();
      const sent = provider.requests.at(-1)!;
      expect(sent.body).toMatchObject({ model });
      expect(sent.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
      expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ model, custom_llm_provider: "fireworks_ai" });
    }
  });

  it("call Ollama at its OpenAI-compatible /v1, with its key variable even at an api_base of the deployment's own (a server of one's own)", async () => {
    const answer = await openai.chat.completions.create({ model: "local-ollama", messages: [{ role: "user", content: "hi" }] });
    expect(answer.choices[0]!.message.content).toBeTruthy();
    const sent = provider.requests.at(-1)!;
    expect(sent.path).toBe("/v1/chat/completions");
    expect(sent.body).toMatchObject({ model: "llama3" });
    expect(sent.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
  });

  it("send no hosted provider's key from the environment to an api_base a deployment names itself", async () => {
    const refused = await openai.chat.completions.create({ model: "own-server", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    const sent = provider.requests.at(-1)!.headers;
    expect(sent["authorization"]).toBeUndefined();
    expect(sent["openai-organization"]).toBeUndefined();
  });
});
