import type { Deployment } from "../config/deployment.js";
import { perDeployment } from "./endpoint.js";
import { openAICompatible, type OpenAIEndpoint } from "./openai.js";
import type { ProviderAdapter } from "./provider.js";

// Azure's GA data-plane version, used when a deployment sets no api_version.
const DEFAULT_API_VERSION = "2024-10-21";

function endpoint(d: Deployment): OpenAIEndpoint {
  // api_base is the resource's endpoint (checked at config load); some configs add the /openai segment themselves.
  const resource = (d.apiBase ?? "").replace(/\/openai$/, "");
  const base = `${resource}/openai/deployments/${encodeURIComponent(d.providerModel)}`;
  const version = `api-version=${encodeURIComponent(d.apiVersion ?? DEFAULT_API_VERSION)}`;
  const query = `?${version}`;
  return {
    chatUrl: `${base}/chat/completions${query}`,
    embeddingsUrl: `${base}/embeddings${query}`,
    textCompletionsUrl: `${base}/completions${query}`,
    imageGenerationsUrl: `${base}/images/generations${query}`,
    imageEditsUrl: `${base}/images/edits${query}`,
    speechUrl: `${base}/audio/speech${query}`,
    transcriptionsUrl: `${base}/audio/transcriptions${query}`,
    // Files and batches belong to the resource, not to one of its deployments.
    accountUrl: (path, more) => `${resource}/openai${path}?${version}${more === "" ? "" : `&${more}`}`,
    headers: d.apiKey ? { "api-key": d.apiKey } : {},
  };
}

/**
 * Azure OpenAI: OpenAI's wire format at a per-deployment URL
 * ({api_base}/openai/deployments/{name}/…?api-version=…) with an api-key header.
 */
export const azureAdapter: ProviderAdapter = {
  ...openAICompatible("azure", perDeployment(endpoint)),
  check: (d) => (d.apiBase === undefined ? "azure deployments need api_base (https://<resource>.openai.azure.com) or AZURE_API_BASE" : undefined),
};
