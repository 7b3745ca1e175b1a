import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's litellm_settings.model_alias_map: names every key may use for a
// model group, renamed before anything else, so a key's models, its budget's
// prices and the ledger all see the group. Split, where the keys service
// renames for a virtual key and the router for the master key.
const mode = MODES[1]!;

function config(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, ${at} }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, ${at} }
  - model_name: gpt-4
    litellm_params: { model: openai/gpt-4.1, ${at} }
litellm_settings:
  num_retries: 0
  model_alias_map: { gpt-3.5-turbo: fast-model, gpt-4: fast-model, claude: fast-model }
router_settings:
  model_group_alias: { claude: smart-model }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe(`litellm_settings.model_alias_map, ${mode.name}`, () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(mode, config, (setup) => ({ gateway } = setup));

  const ask = async (key: string, model: string) => {
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model, messages: [{ role: "user", content: "alias" }] }).withResponse();
    return { model: data.model, row: await gateway.spendLog(response.headers.get("x-litellm-call-id")!) };
  };

  it("calls, checks and books a request by the group its alias names, for a virtual key and the master key", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["fast-model"] });
    for (const bearer of [key.key, MASTER_KEY]) {
      const { model, row } = await ask(bearer, "gpt-3.5-turbo");
      expect(model).toBe("gpt-4o-mini");
      expect(row).toMatchObject({ model_group: "fast-model", model: "gpt-4o-mini" });
    }
    // Renamed before the group of the same name is looked for, as in LiteLLM.
    for (const bearer of [key.key, MASTER_KEY]) expect((await ask(bearer, "gpt-4")).row).toMatchObject({ model_group: "fast-model" });
    // router_settings.model_group_alias wins for a name both have.
    expect((await ask(MASTER_KEY, "claude")).row).toMatchObject({ model_group: "smart-model" });
  });

  it("keeps a key to its models by the group an alias names", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["smart-model"] });
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: "gpt-3.5-turbo", messages: [{ role: "user", content: "alias" }] })).rejects.toMatchObject({
      status: 401,
      message: expect.stringContaining("model=fast-model (asked for as gpt-3.5-turbo)"),
    });
  });

  it("does not list its names in /v1/models", async () => {
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids.sort()).toEqual(["claude", "fast-model", "gpt-4", "smart-model"]);
  });
});
