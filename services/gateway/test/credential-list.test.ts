import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { PROVIDER_KEY } from "./support/config.js";
import { routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";

// LiteLLM's credential_list: a model's key and address from a named
// credential, for config.yaml's entries and for models added at runtime.

let provider: FakeProvider;
let moved: FakeProvider;
let gw: RoutingGateway;

const yaml = (at: FakeProvider) =>
  routingYaml(
    `  - model_name: credentialed
    litellm_params: { model: openai/gpt-4o-mini, litellm_credential_name: fake-cred }
    model_info: { id: credentialed-1 }
`,
    `credential_list:
  - credential_name: fake-cred
    credential_values:
      api_key: os.environ/FAKE_PROVIDER_KEY
      api_base: "${at.url}/v1"
    credential_info: { description: the fake provider }
`,
  );

beforeAll(async () => {
  [provider, moved] = [await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } }), await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } })];
  gw = await startRoutingGateway(yaml(provider));
});

afterAll(async () => {
  await gw?.close();
  await provider?.close();
  await moved?.close();
});

type ModelInfo = { data: { model_name: string; litellm_params: Record<string, unknown> }[] };

describe("credential_list", () => {
  it("calls a config.yaml model with the key and api_base of the credential it names, and shows neither key", async () => {
    const answer = await gw.client.chat.completions.create({ model: "credentialed", messages: [{ role: "user", content: "who am I" }] });
    expect(answer.choices[0]?.message.content).toBe("Echo: who am I");
    expect(provider.requests).toHaveLength(1);
    const { status, json } = await admin<ModelInfo>(gw.baseUrl, "GET", "/model/info");
    expect(status).toBe(200);
    expect(JSON.stringify(json)).not.toContain(PROVIDER_KEY);
    expect(json.data.find((m) => m.model_name === "credentialed")?.litellm_params).toMatchObject({ litellm_credential_name: "fake-cred" });
  });

  it("takes a runtime model (POST /model/new) naming a credential, and refuses one naming no credential", async () => {
    const added = await admin(gw.baseUrl, "POST", "/model/new", {
      model_name: "added-credentialed",
      litellm_params: { model: "openai/gpt-4o-mini", litellm_credential_name: "fake-cred" },
    });
    expect(added.status).toBe(200);
    const answer = await gw.client.chat.completions.create({ model: "added-credentialed", messages: [{ role: "user", content: "added" }] });
    expect(answer.choices[0]?.message.content).toBe("Echo: added");
    const unknown = await admin<{ error: { message: string } }>(gw.baseUrl, "POST", "/model/new", {
      model_name: "nowhere",
      litellm_params: { model: "openai/gpt-4o-mini", litellm_credential_name: "prod" },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain('no credential named "prod" in credential_list or stored with POST /credentials (there are fake-cred)');
    expect(JSON.stringify(await gw.client.models.list())).not.toContain("nowhere");
  });

  it("moves config.yaml's and runtime models to a credential's new values when config.yaml changes", async () => {
    gw.rewrite(yaml(moved));
    for (const model of ["credentialed", "added-credentialed"]) {
      await eventually(`${model} to call the credential's new api_base`, async () => {
        const before = moved.requests.length;
        await gw.client.chat.completions.create({ model, messages: [{ role: "user", content: "where" }] });
        return moved.requests.length > before ? true : undefined;
      });
    }
  });
});
