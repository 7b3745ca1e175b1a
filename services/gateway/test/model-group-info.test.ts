import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's GET /model_group/info: each group a key may use, as its
// deployments and their model_info describe it.
const mode = MODES[1]!;

function groupsConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: smart
    litellm_params: { model: openai/gpt-4o, ${at}, tpm: 1000, rpm: 10 }
    model_info: { max_input_tokens: 128000, max_output_tokens: 16384, supports_vision: true }
  - model_name: smart
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY, tpm: 500 }
    model_info: { max_input_tokens: 200000, max_output_tokens: 8192, supports_function_calling: true }
  - model_name: embed
    litellm_params: { model: openai/text-embedding-3-small, ${at} }
    model_info: { mode: embedding }
router_settings:
  model_group_alias: { best: smart }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

type Info = Record<string, unknown> & { model_group: string };

describe(`/model_group/info, ${mode.name}`, () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(mode, groupsConfig, (setup) => ({ gateway } = setup));

  const infoOf = async (query = "", key = MASTER_KEY) => {
    const res = await fetch(`${gateway.baseUrl}/model_group/info${query}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, data: res.status === 200 ? ((await res.json()) as { data: Info[] }).data : [] };
  };

  it("describes each group by its deployments: providers, the smallest limits, the dearest prices, summed rate limits, what any can do", async () => {
    const { data } = await infoOf();
    expect(data.map((g) => g.model_group)).toEqual(["smart", "embed", "best"]);
    const smart = data[0]!;
    expect(smart).toMatchObject({
      providers: ["openai", "anthropic"],
      max_input_tokens: 128000,
      max_output_tokens: 8192,
      mode: "chat",
      tpm: 1500,
      rpm: 10,
      supports_vision: true,
      supports_function_calling: true,
      supports_reasoning: false,
    });
    expect(smart["input_cost_per_token"]).toBeCloseTo(3e-6, 15);
    expect(smart["output_cost_per_token"]).toBeCloseTo(15e-6, 15);
    expect({ ...data[2], model_group: "smart" }).toEqual(smart);
    expect(data[1]).toMatchObject({ model_group: "embed", mode: "embedding", tpm: null, rpm: null, max_input_tokens: null });
  });

  it("answers one group when asked, only the groups a key may use, and nothing without a key", async () => {
    expect((await infoOf("?model_group=embed")).data.map((g) => g.model_group)).toEqual(["embed"]);
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["embed"] });
    expect((await infoOf("", key.key)).data.map((g) => g.model_group)).toEqual(["embed"]);
    expect((await infoOf("", "sk-not-a-key")).status).toBe(401);
  });

  it("shows a key's aliases after its groups, each as the group it names", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["embed"], aliases: { "my-embedder": "embed" } });
    const { data } = await infoOf("", key.key);
    expect(data.map((g) => g.model_group)).toEqual(["embed", "my-embedder"]);
    expect({ ...data[1], model_group: "embed" }).toEqual(data[0]);
    expect((await infoOf("?model_group=my-embedder", key.key)).data.map((g) => g.model_group)).toEqual(["my-embedder"]);
  });
});
