import { describe, expect, it } from "vitest";
import { ConfigError, createLogger, MemoryBus, parseConfig } from "@gateway/common";
import { splitModel } from "../src/config/deployment.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { providerSettings, unkeyedEntries } from "../src/config/provider-env.js";
import { Cooldowns } from "../src/cooldowns.js";
import type { DeploymentLimits } from "../src/deployment-limits.js";
import { DeploymentStats } from "../src/deployment-stats.js";
import { LiveModelList } from "../src/model-list.js";
import { checkDeployments, SUPPORTED_PROVIDERS } from "../src/providers/index.js";

const params = (p: Record<string, string>) => ({ model: "x", ...p });

describe("a provider's settings from LiteLLM's environment variables", () => {
  it("fill what a deployment leaves out, first variable set winning; its own values win", () => {
    const env = { AZURE_API_KEY: "az-2", AZURE_OPENAI_API_KEY: "az-1", AZURE_API_BASE: "https://r.openai.azure.com", AZURE_API_VERSION: "2024-10-21" };
    expect(providerSettings("azure", params({}), env)).toEqual({ apiKey: "az-1", apiBase: "https://r.openai.azure.com", apiVersion: "2024-10-21", organization: undefined });
    expect(providerSettings("gemini", params({}), { GOOGLE_API_KEY: "g" })).toMatchObject({ apiKey: "g", apiBase: undefined });
    // Mistral's models on Azure AI come first, as in LiteLLM.
    expect(providerSettings("mistral", params({}), { MISTRAL_API_KEY: "m", MISTRAL_AZURE_API_KEY: "ma", MISTRAL_AZURE_API_BASE: "https://m.models.ai.azure.com" })).toMatchObject({ apiKey: "ma", apiBase: "https://m.models.ai.azure.com" });
    expect(providerSettings("mistral", params({}), { MISTRAL_API_KEY: "m", MISTRAL_API_BASE: "http://m/v1" })).toMatchObject({ apiKey: "m", apiBase: "http://m/v1" });
    expect(providerSettings("codestral", params({}), { MISTRAL_API_KEY: "m", CODESTRAL_API_KEY: "c" })).toMatchObject({ apiKey: "c", apiBase: undefined });
    expect(providerSettings("anthropic", params({ api_key: "mine" }), { ANTHROPIC_API_KEY: "env", ANTHROPIC_BASE_URL: "http://a" })).toMatchObject({ apiKey: "mine", apiBase: "http://a" });
    // An empty variable counts as unset.
    expect(providerSettings("openai", params({}), { OPENAI_API_KEY: "", OPENAI_BASE_URL: "", OPENAI_API_BASE: "http://b/v1" })).toMatchObject({ apiKey: undefined, apiBase: "http://b/v1" });
  });

  it("keep the account's key and organization from an api_base the deployment names itself, and say so at start", () => {
    const env = { OPENAI_API_KEY: "sk-env", OPENAI_ORGANIZATION: "org-env" };
    expect(providerSettings("openai", params({ api_base: "http://vllm:8000/v1" }), env)).toEqual({ apiKey: undefined, apiBase: "http://vllm:8000/v1", apiVersion: undefined, organization: undefined });
    const entries = [
      { model_name: "local", litellm_params: { model: "openai/llama3", api_base: "http://vllm:8000/v1" } },
      { model_name: "keyed", litellm_params: { model: "openai/llama3", api_base: "http://vllm:8000/v1", api_key: "k" } },
      { model_name: "hosted", litellm_params: { model: "gpt-4o" } },
      { model_name: "claude", litellm_params: { model: "anthropic/claude-3-5-haiku", api_base: "http://proxy" } },
    ];
    // Azure has no one address: its key goes to the resource the deployment names.
    expect(providerSettings("azure", params({ api_base: "https://r.openai.azure.com" }), { AZURE_API_KEY: "az" })).toMatchObject({ apiKey: "az" });
    expect(unkeyedEntries(entries, (m) => splitModel(m).provider, env)).toEqual(["local (openai/llama3): set api_key: os.environ/OPENAI_API_KEY to send OPENAI_API_KEY to its api_base"]);
  });

  it("count a key from the credential a deployment names, stored or in credential_list, as its api_key", () => {
    const config = parseConfig(`
model_list:
  - model_name: stored
    litellm_params: { model: openai/llama3, api_base: "http://vllm:8000/v1", litellm_credential_name: vllm-key }
  - model_name: listed
    litellm_params: { model: openai/llama3, litellm_credential_name: listed-key }
  - model_name: bare
    litellm_params: { model: openai/llama3, api_base: "http://vllm:8000/v1" }
credential_list:
  - credential_name: listed-key
    credential_values: { api_key: listed-secret, api_base: "http://vllm:8001/v1" }
`);
    const logger = createLogger("test", "silent");
    const models = new LiveModelList(
      { config, store: undefined, credentials: undefined, bus: new MemoryBus(), state: { cooldowns: new Cooldowns(), stats: new DeploymentStats(), logger }, limits: {} as DeploymentLimits, logger },
      [{ name: "vllm-key", values: { api_key: "stored-secret" }, info: {} }],
    );
    const env = { OPENAI_API_KEY: "sk-env" };
    expect(unkeyedEntries(models.configEntries(), (m) => splitModel(m).provider, env)).toEqual([
      "bare (openai/llama3): set api_key: os.environ/OPENAI_API_KEY to send OPENAI_API_KEY to its api_base",
    ]);
  });

  it("are read for the OpenAI-compatible providers LiteLLM names too; a server of one's own needs its address", () => {
    expect(providerSettings("groq", params({}), { GROQ_API_KEY: "gsk" })).toMatchObject({ apiKey: "gsk", apiBase: undefined });
    expect(providerSettings("perplexity", params({}), { PERPLEXITY_API_KEY: "pplx-2", PERPLEXITYAI_API_KEY: "pplx-1", PERPLEXITY_API_BASE: "http://pplx" })).toMatchObject({ apiKey: "pplx-1", apiBase: "http://pplx" });
    expect(providerSettings("perplexity", params({}), { PERPLEXITY_API_KEY: "pplx-2" })).toMatchObject({ apiKey: "pplx-2" });
    expect(providerSettings("hosted_vllm", params({ api_base: "http://gpu:8000/v1" }), { HOSTED_VLLM_API_KEY: "v" })).toMatchObject({ apiKey: "v" });
    const groups = (model: string) => ModelGroups.fromConfig(parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: ${model} } }\n`), SUPPORTED_PROVIDERS);
    expect(() => checkDeployments(groups("hosted_vllm/llama3"))).toThrow(ConfigError);
    expect(() => checkDeployments(groups("hosted_vllm/llama3"))).toThrow(/hosted_vllm deployments need api_base \(the server's address\) or HOSTED_VLLM_API_BASE/);
    expect(() => checkDeployments(groups("ollama/llama3"))).not.toThrow();
  });
});
