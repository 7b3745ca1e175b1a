import { redactInLogs, type ModelEntry } from "@gateway/common";
import { OPENAI_LIKE_PROVIDERS } from "../providers/openai-like.js";

/** The environment variables a provider reads for what a deployment leaves out, first set wins (LiteLLM's names). */
export interface ProviderVariables {
  /**
   * One hosted service, whose key and organization are for its own address
   * only: a deployment naming another api_base does not get them.
   */
  hosted: boolean;
  apiKey: readonly string[];
  apiBase: readonly string[];
  apiVersion?: readonly string[];
  organization?: readonly string[];
}

// The variables LiteLLM reads for each provider's settings that a deployment
// leaves out (OPENAI_API_KEY for an openai/ deployment without api_key, …);
// the OpenAI-compatible providers' are beside their base URLs.
const PROVIDER_VARIABLES: Readonly<Record<string, ProviderVariables>> = {
  openai: { hosted: true, apiKey: ["OPENAI_API_KEY"], apiBase: ["OPENAI_BASE_URL", "OPENAI_API_BASE"], organization: ["OPENAI_ORGANIZATION"] },
  azure: { hosted: false, apiKey: ["AZURE_OPENAI_API_KEY", "AZURE_API_KEY"], apiBase: ["AZURE_API_BASE"], apiVersion: ["AZURE_API_VERSION"] },
  anthropic: { hosted: true, apiKey: ["ANTHROPIC_API_KEY"], apiBase: ["ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"] },
  gemini: { hosted: true, apiKey: ["GEMINI_API_KEY", "GOOGLE_API_KEY"], apiBase: ["GEMINI_API_BASE"] },
  // LiteLLM looks for Mistral's models on Azure AI first.
  mistral: { hosted: true, apiKey: ["MISTRAL_AZURE_API_KEY", "MISTRAL_API_KEY"], apiBase: ["MISTRAL_AZURE_API_BASE", "MISTRAL_API_BASE"] },
  codestral: { hosted: true, apiKey: ["CODESTRAL_API_KEY"], apiBase: ["CODESTRAL_API_BASE"] },
  "text-completion-codestral": { hosted: true, apiKey: ["CODESTRAL_API_KEY"], apiBase: ["CODESTRAL_API_BASE"] },
  // A Bedrock API key; the endpoint and the signing credentials are read in aws-settings.ts.
  bedrock: { hosted: false, apiKey: ["AWS_BEARER_TOKEN_BEDROCK"], apiBase: [] },
  ...Object.fromEntries(Object.entries(OPENAI_LIKE_PROVIDERS).map(([name, provider]) => [name, provider.variables])),
};

function firstSet(names: readonly string[] | undefined, env: NodeJS.ProcessEnv): string | undefined {
  for (const name of names ?? []) {
    const value = env[name];
    if (value) return value;
  }
  return undefined;
}

export interface ProviderSettings {
  apiKey: string | undefined;
  apiBase: string | undefined;
  apiVersion: string | undefined;
  organization: string | undefined;
}

/**
 * A deployment's key, base URL, API version and organization: its own, or
 * else its provider's variables. A hosted service's key and organization go
 * only where the variables (or the service's default) point: a deployment
 * with an api_base of its own gets no key it does not name, so
 * OPENAI_API_KEY never reaches an OpenAI-compatible server elsewhere
 * (LiteLLM would send it). Azure's and local servers' keys are for whatever
 * address the deployment names.
 */
export function providerSettings(provider: string, p: ModelEntry["litellm_params"], env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const vars = PROVIDER_VARIABLES[provider];
  // A hosted service's account settings, for that service's own address.
  const account = p.api_base === undefined || !vars?.hosted ? vars : undefined;
  const apiKey = p.api_key ?? firstSet(account?.apiKey, env);
  if (apiKey !== undefined && p.api_key === undefined) redactInLogs([apiKey]);
  return {
    apiKey,
    apiBase: p.api_base ?? firstSet(vars?.apiBase, env),
    apiVersion: p.api_version ?? firstSet(vars?.apiVersion, env),
    organization: p.organization ?? firstSet(account?.organization, env),
  };
}

/**
 * Entries that call a hosted provider at an api_base of their own with no
 * api_key while the provider's key variable is set: LiteLLM would send that key
 * there; this gateway sends none, and a start says so.
 */
export function unkeyedEntries(modelList: readonly ModelEntry[], provider: (model: string) => string, env: NodeJS.ProcessEnv = process.env): string[] {
  return modelList
    .filter(({ litellm_params: p }) => p.api_base !== undefined && p.api_key === undefined && p.mock_response === undefined)
    .flatMap(({ model_name, litellm_params: p }) => {
      const vars = PROVIDER_VARIABLES[provider(p.model)];
      const name = vars?.hosted ? vars.apiKey.find((n) => env[n]) : undefined;
      return name === undefined ? [] : [`${model_name} (${p.model}): set api_key: os.environ/${name} to send ${name} to its api_base`];
    });
}
