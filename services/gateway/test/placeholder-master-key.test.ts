import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_KEY, writeConfig } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// The master keys the repository's own files hand out: config.yaml's, and
// deploy/.env.example's, which compose reads as LITELLM_MASTER_KEY. A start
// with either says so, since anyone who has read those files knows them.
const IN_MEMORY = { DATABASE_URL: "", NATS_URL: "", GATEWAY_DATA_DIR: "", FAKE_PROVIDER_KEY: PROVIDER_KEY };
const WARNING = "general_settings.master_key is the shipped demo value; change it before anyone else can reach this gateway";

describe("a master key from the repository's own files", () => {
  const processes = new ProcessGroup();
  let provider: FakeProvider;
  let configPath: string;
  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    configPath = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
`);
  });
  afterAll(async () => {
    await processes.close();
    await provider?.close();
  });

  for (const placeholder of ["sk-1234", "sk-change-me"]) {
    it(`${placeholder}: the start warns, and the gateway serves with it`, async () => {
      const gateway = await processes.start("all", { configPath, env: { ...IN_MEMORY, LITELLM_MASTER_KEY: placeholder } });
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: placeholder, maxRetries: 0 });
      const answer = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
      expect(answer.choices[0]?.message.content).toBe("Echo: hi");
      expect(gateway.output()).toContain(WARNING);
      expect(gateway.output()).not.toContain(placeholder);
    });
  }

  it("another key: no such warning", async () => {
    const gateway = await processes.start("all", { configPath, env: { ...IN_MEMORY, LITELLM_MASTER_KEY: "sk-a-key-of-its-own-7f3e9a2b" } });
    expect(gateway.output()).not.toContain(WARNING);
  });
});
