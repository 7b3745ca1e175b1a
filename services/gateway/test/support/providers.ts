import { MASTER_KEY, writeConfig } from "./config.js";

/**
 * Model groups on every provider the router speaks, all served by one fake
 * provider (it answers each wire format at its own paths), with the key in
 * FAKE_PROVIDER_KEY. drop_params is off globally; "claude-lenient" and
 * "gemini-lenient" turn it on for their deployments alone.
 */
export function providersConfig(fakeUrl: string): string {
  const key = "api_key: os.environ/FAKE_PROVIDER_KEY";
  return writeConfig(`
model_list:
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, ${key} }
    model_info: { id: openai-1 }
  - model_name: gpt-reasoning
    litellm_params: { model: openai/o4-mini, api_base: ${fakeUrl}/v1, ${key} }
    model_info: { id: openai-reasoning-1 }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-sonnet-20241022, api_base: ${fakeUrl}, ${key} }
    model_info: { id: anthropic-1 }
  - model_name: claude-long-context
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: ${fakeUrl}, ${key} }
    model_info: { id: anthropic-long-context-1 }
  - model_name: claude-adaptive
    litellm_params: { model: anthropic/claude-opus-4-7, api_base: ${fakeUrl}, ${key} }
    model_info: { id: anthropic-adaptive-1 }
  - model_name: claude-lenient
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, ${key}, drop_params: true }
    model_info: { id: anthropic-2 }
  - model_name: gemini-flash
    litellm_params: { model: gemini/gemini-2.5-flash, api_base: ${fakeUrl}, ${key} }
    model_info: { id: gemini-1 }
  - model_name: gemini-3
    litellm_params: { model: gemini/gemini-3-flash-preview, api_base: ${fakeUrl}, ${key} }
    model_info: { id: gemini-3-1 }
  - model_name: gemini-lenient
    litellm_params: { model: gemini/gemini-2.5-flash, api_base: ${fakeUrl}, ${key}, drop_params: true }
    model_info: { id: gemini-2 }
  - model_name: azure-gpt
    litellm_params: { model: azure/my-gpt-4o, api_base: ${fakeUrl}, api_version: "2024-10-21", ${key} }
    model_info: { id: azure-1, input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }
  - model_name: embed-openai
    litellm_params: { model: openai/text-embedding-3-small, api_base: ${fakeUrl}/v1, ${key} }
    model_info: { id: openai-embed-1 }
  - model_name: embed-azure
    litellm_params: { model: azure/my-embedding, api_base: ${fakeUrl}, api_version: "2024-10-21", ${key}, input_cost_per_token: 0.0000001 }
    model_info: { id: azure-embed-1 }
  - model_name: embed-gemini
    litellm_params: { model: gemini/gemini-embedding-001, api_base: ${fakeUrl}, ${key} }
    model_info: { id: gemini-embed-1 }
litellm_settings:
  drop_params: false
  request_timeout: 30
  # A failure a test injects reaches the client as it is; retries have tests of their own.
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** A one-pixel PNG, base64: enough for an image part. */
export const PIXEL_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
