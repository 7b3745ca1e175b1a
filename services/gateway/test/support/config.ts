import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InternalCredential } from "@gateway/common";
import { afterAll } from "vitest";

export const MASTER_KEY = "sk-master-test-0123456789";
/** What split services whose config has MASTER_KEY ask their callers for. */
export const INTERNAL_CREDENTIAL = new InternalCredential(MASTER_KEY);
export const PROVIDER_KEY = "sk-provider-secret-abcdef";

const written: string[] = [];
// Registered when a test file imports this module: its configs go once its tests are done.
afterAll(() => {
  for (const dir of written.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes a config.yaml whose models point at fake providers; returns its path. */
export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "gateway-test-"));
  written.push(dir);
  const path = join(dir, "config.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** One OpenAI-compatible model group "fast-model" on the given fake provider. */
export function fakeOpenAIConfig(providerUrl: string, extra = ""): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: ${providerUrl}/v1
      api_key: os.environ/FAKE_PROVIDER_KEY
    model_info:
      id: fake-deployment-1
litellm_settings:
  drop_params: true
  request_timeout: 30
  # A failure a test injects reaches the client as it is; retries have tests of their own.
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
${extra}`);
}
