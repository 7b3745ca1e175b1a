import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's check_provider_endpoint: /v1/models lists each wildcard group as
// the models its deployments' providers list (OpenAI's, Anthropic's and
// Gemini's model lists, on the fake provider), with the official client; a
// provider that cannot be asked leaves its pattern listed.

const config = (url: string) =>
  writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: "openai/*"
    litellm_params: { model: "openai/*", api_base: ${url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: "claude-*"
    litellm_params: { model: "anthropic/claude-*", api_base: ${url}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: "gemini/*"
    litellm_params: { model: "gemini/*", api_base: ${url}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: "offline/*"
    litellm_params: { model: "openai/*", api_base: "http://127.0.0.1:9/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  check_provider_endpoint: true
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);

const PROVIDER_MODELS = ["gpt-4o-mini", "claude-haiku-4-5", "gemini-2.5-flash"];

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`wildcard groups in /v1/models, ${mode.name}`, () => {
    let setup: FakeBehindGateway;
    beforeAll(async () => {
      setup = await startFakeBehindGateway(mode, config);
      setup.provider.behavior.listedModels = PROVIDER_MODELS;
    });
    afterAll(() => setup?.close());

    const ids = async (key = MASTER_KEY, query = "") => {
      const res = await fetch(`${setup.gateway.baseUrl}/v1/models${query}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
    };

    it("lists each wildcard group as the provider's models it answers, and the pattern of one whose provider cannot be asked", async () => {
      const listed = (await setup.openai.models.list()).data.map((m) => m.id).sort();
      expect(listed).toEqual(
        [
          "fast-model",
          ...PROVIDER_MODELS.map((m) => `openai/${m}`),
          "claude-haiku-4-5",
          ...PROVIDER_MODELS.map((m) => `gemini/${m}`),
          "offline/*",
        ].sort(),
      );
      // LiteLLM's return_wildcard_routes lists the patterns too.
      expect(await ids(MASTER_KEY, "?return_wildcard_routes=true")).toEqual([...listed, "openai/*", "claude-*", "gemini/*"].sort());
      // Each provider's list was asked for once: listings in between share it.
      expect(setup.provider.requests.filter((r) => r.method === "GET" && r.path === "/v1beta/models")).toHaveLength(1);
    });

    it("answers the names it lists", async () => {
      for (const model of ["claude-haiku-4-5", "gemini/gemini-2.5-flash", "openai/gpt-4o-mini"]) {
        const answer = await setup.openai.chat.completions.create({ model, messages: [{ role: "user", content: `hello ${model}` }] });
        expect(answer.choices[0]!.message.content).toBeTruthy();
      }
      const one = await setup.openai.models.retrieve("openai/gpt-4o-mini");
      expect(one.id).toBe("openai/gpt-4o-mini");
    });

    it("lists for a key only the groups its models name", async () => {
      const { json } = await admin<GeneratedKey>(setup.gateway.baseUrl, "POST", "/key/generate", { models: ["claude-*", "fast-model"] });
      expect(await ids(json.key)).toEqual(["claude-haiku-4-5", "fast-model"]);
    });
  });
}
