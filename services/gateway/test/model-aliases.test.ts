import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's key aliases and team model_aliases, with the official client: a
// name a key's requests use is answered by the model group its alias names,
// which is the one checked, called and booked.

const config = (providerUrl: string) =>
  writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${providerUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, api_base: ${providerUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
`);

function modelAliasTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, config);
    baseUrl = setup.gateway.baseUrl;
  });
  afterAll(() => setup?.close());

  const keyWith = async (body: Record<string, unknown>) => (await admin<{ key: string }>(baseUrl, "POST", "/key/generate", body)).json.key;
  const clientOf = (key: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 });
  const lastProviderModel = () => (setup.provider.requests.at(-1)?.body as { model?: string } | undefined)?.model;

  it("answers a key's alias from the model group it names, and books that group", async () => {
    const key = await keyWith({ models: ["smart-model"], aliases: { "my-model": "smart-model" } });
    const { data, response } = await clientOf(key)
      .chat.completions.create({ model: "my-model", messages: [{ role: "user", content: "aliased" }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("Echo: aliased");
    expect(lastProviderModel()).toBe("gpt-4o");
    const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ model_group: "smart-model", model: "gpt-4o" });

    let streamed = "";
    const stream = await clientOf(key).chat.completions.create({ model: "my-model", stream: true, messages: [{ role: "user", content: "streamed" }] });
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? "";
    expect(streamed).toBe("Echo: streamed");
    expect(lastProviderModel()).toBe("gpt-4o");

    const info = await admin<{ info: { aliases: Record<string, string> } }>(baseUrl, "GET", `/key/info?key=${key}`);
    expect(info.json.info.aliases).toEqual({ "my-model": "smart-model" });
    // Listed after the groups the key may use, and found by name.
    expect((await clientOf(key).models.list()).data.map((m) => m.id)).toEqual(["smart-model", "my-model"]);
    expect((await clientOf(key).models.retrieve("my-model")).id).toBe("my-model");
  });

  it("answers a team's model_aliases for its keys, and shows them as LiteLLM does", async () => {
    const teamId = `aliases-${mode.split ? "split" : "one"}`;
    const made = await admin(baseUrl, "POST", "/team/new", { team_id: teamId, models: ["fast-model"], model_aliases: { "claude-sonnet": "fast-model" } });
    expect(made.status).toBe(200);
    const key = await keyWith({ team_id: teamId });
    const { response } = await clientOf(key)
      .chat.completions.create({ model: "claude-sonnet", messages: [{ role: "user", content: "team" }] })
      .withResponse();
    expect(lastProviderModel()).toBe("gpt-4o-mini");
    expect(await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ model_group: "fast-model" });
    const info = await admin<{ team_info: { litellm_model_table: unknown } }>(baseUrl, "GET", `/team/info?team_id=${teamId}`);
    expect(info.json.team_info.litellm_model_table).toEqual({ model_aliases: { "claude-sonnet": "fast-model" } });
    expect((await clientOf(key).models.list()).data.map((m) => m.id)).toEqual(["fast-model", "claude-sonnet"]);
  });

  it("refuses an alias to a model group the key may not use, and an alias map that is not one", async () => {
    const key = await keyWith({ models: ["fast-model"], aliases: { cheap: "smart-model" } });
    // Not listed: the key may not use what it names.
    expect((await clientOf(key).models.list()).data.map((m) => m.id)).toEqual(["fast-model"]);
    const refused = await clientOf(key)
      .chat.completions.create({ model: "cheap", messages: [{ role: "user", content: "no" }] })
      .catch((err: unknown) => err as { status: number; error: { message: string } });
    expect(refused).toMatchObject({ status: 401, error: { message: "This key may not use model=smart-model (asked for as cheap). It may use models=[fast-model]" } });
    const bad = await admin<{ error: { message: string; param: string } }>(baseUrl, "POST", "/key/generate", { aliases: ["smart-model"] });
    expect(bad).toMatchObject({ status: 400, json: { error: { param: "aliases", message: expect.stringContaining("aliases must be an object of model names to model groups") } } });
  });
}

describe("model aliases, one process", () => modelAliasTests(MODES[0]!));
describe("model aliases, split services", () => modelAliasTests(MODES[1]!));
