import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, PROVIDER_KEY } from "./support/config.js";
import { MODES, startInMode, type ModeGateway } from "./support/modes.js";

// A budget reserves the most a request can cost before it goes upstream.
// That bound must follow the model list the router answers from: a
// deployment added to a group at run time (POST /model/new), dearer than
// the group's deployments in config.yaml, may answer, and its requests must
// not be admitted at the old, cheaper bound. The router tells the keys
// service its model list whenever it changes (MODEL_PRICES_SUBJECT).

let provider: FakeProvider;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
});

afterAll(async () => {
  await provider?.close();
});

describe.each(MODES.filter((m) => m.real))("a budget after the model list changed, $name", (mode) => {
  let gateway: ModeGateway;
  beforeAll(async () => {
    gateway = await startInMode(mode, fakeOpenAIConfig(provider.url));
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("holds with a dearer deployment added to the group at run time", async () => {
    const dear = 0.0001;
    const added = await admin(gateway.baseUrl, "POST", "/model/new", {
      model_name: "fast-model",
      // Ordered, so it answers every request (the config's deployment has no order).
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${provider.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY", order: 1 },
      model_info: { id: "fast-dear", input_cost_per_token: dear, output_cost_per_token: dear },
    });
    expect(added.status).toBe(200);
    Object.assign(provider.behavior, { reply: "word ".repeat(100).trim() });
    try {
      // Room for two requests answered in full by the dear deployment (100 tokens out each, a few in).
      const maxBudget = 0.025;
      const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: maxBudget });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const answer = await client.chat.completions
          .create({ model: "fast-model", messages: [{ role: "user", content: "hi" }], max_tokens: 100 })
          .withResponse()
          .catch(() => undefined);
        if (answer) ids.push(answer.response.headers.get("x-litellm-call-id")!);
      }
      let spent = 0;
      for (const id of ids) spent += (await gateway.spendLog(id))["spend"] as number;
      expect(spent).toBeLessThanOrEqual(maxBudget);
    } finally {
      delete provider.behavior.reply;
    }
  });
});
