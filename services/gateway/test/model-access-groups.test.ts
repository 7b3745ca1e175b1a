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
router_settings:
  fallbacks: [{ fast-model: [smart-model] }]
  context_window_fallbacks: [{ smart-model: [fast-model] }]
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

  it("lists access groups, a team's models and fallbacks when /v1/models is asked as LiteLLM's is", async () => {
    const baseUrl = setup.gateway.baseUrl;
    type Listed = { data: { id: string; metadata?: { fallbacks: string[] } }[]; error?: { message: string; param: string } };
    const list = async (query: string, key = MASTER_KEY) => {
      const res = await fetch(`${baseUrl}/v1/models?${query}`, { headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, json: (await res.json()) as Listed };
    };
    const ids = async (query: string, key = MASTER_KEY) => (await list(query, key)).json.data.map((m) => m.id);
    expect(await ids("include_model_access_groups=true")).toEqual(["fast-model", "smart-model", "new-model", "beta-models"]);
    expect(await ids("only_model_access_groups=true")).toEqual(["beta-models"]);
    const { json: smartOnly } = await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { models: ["smart-model"] });
    expect(await ids("only_model_access_groups=true", smartOnly.key)).toEqual([]);

    // A team's models, which may name an access group, for the master key and the team's members only.
    await admin(baseUrl, "POST", "/team/new", { team_id: "listed-team", models: ["beta-models"], members_with_roles: [{ role: "user", user_id: "lister" }] });
    expect((await ids("team_id=listed-team")).sort()).toEqual(["fast-model", "new-model"]);
    const { json: member } = await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { user_id: "lister" });
    expect((await ids("team_id=listed-team", member.key)).sort()).toEqual(["fast-model", "new-model"]);
    expect((await list("team_id=listed-team", smartOnly.key)).status).toBe(403);

    // include_metadata: each model's fallbacks, general by default.
    const general = (await list("include_metadata=true")).json.data;
    expect(general.find((m) => m.id === "fast-model")?.metadata).toEqual({ fallbacks: ["smart-model"] });
    expect(general.find((m) => m.id === "smart-model")?.metadata).toEqual({ fallbacks: [] });
    const contextWindow = (await list("include_metadata=true&fallback_type=context_window")).json.data;
    expect(contextWindow.find((m) => m.id === "smart-model")?.metadata).toEqual({ fallbacks: ["fast-model"] });
    expect((await list("fallback_type=context_window")).json.data.every((m) => m.metadata === undefined)).toBe(true);
    const bad = await list("include_metadata=true&fallback_type=sideways");
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ message: "fallback_type must be one of general, context_window, content_policy: sideways", param: "fallback_type" });
  });
});
