import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's model access groups with the official client: a key given a
// group's name may use, and lists, the model groups in it, also one added
// with /model/new while the gateway runs.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { access_groups: [beta-models] }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("model access groups, one process", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, config);
  });
  afterAll(() => setup?.close());

  it("let a key use and list the models of its groups, also models added later", async () => {
    const baseUrl = setup.gateway.baseUrl;
    const { json } = await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { models: ["beta-models"] });
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: json.key, maxRetries: 0 });
    const chat = (model: string) => client.chat.completions.create({ model, messages: [{ role: "user", content: "grouped" }] });
    expect((await chat("fast-model")).choices[0]?.message.content).toBeTruthy();
    await expect(chat("smart-model")).rejects.toMatchObject({ status: 401 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(["fast-model"]);

    const added = await admin(baseUrl, "POST", "/model/new", {
      model_name: "new-model",
      litellm_params: { model: "openai/gpt-4.1", api_base: `${setup.provider.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY" },
      model_info: { access_groups: ["beta-models"] },
    });
    expect(added.status).toBe(200);
    const answer = await eventually("the added model for the group's key", () => chat("new-model").catch(() => undefined));
    expect(answer.choices[0]?.message.content).toBeTruthy();
    expect((await client.models.list()).data.map((m) => m.id).sort()).toEqual(["fast-model", "new-model"]);
  });
});
