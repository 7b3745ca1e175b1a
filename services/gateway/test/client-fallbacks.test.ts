import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { deployment, routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";

// LiteLLM's client-side fallbacks: the body's "fallbacks" name the model
// groups to try when the one asked for fails, in place of the config's; the
// key must be allowed each; mock_testing_fallbacks makes the first group
// fail without a call, to try them out. Neither field reaches a provider.

let primary: FakeProvider;
let backup: FakeProvider;
let configured: FakeProvider;

beforeAll(async () => {
  [primary, backup, configured] = await Promise.all([startFakeProvider(), startFakeProvider(), startFakeProvider()]);
});

afterAll(async () => {
  for (const p of [primary, backup, configured]) await p?.close();
});

beforeEach(() => {
  for (const p of [primary, backup, configured]) {
    p.requests.length = 0;
    Object.assign(p.behavior, { failNext: 0, failStatus: 500 });
  }
});

const chats = (p: FakeProvider) => p.requests.filter((r) => r.path === "/v1/chat/completions");

type Params = OpenAI.ChatCompletionCreateParamsNonStreaming & { fallbacks?: unknown; mock_testing_fallbacks?: boolean; disable_fallbacks?: boolean };

describe.each(["one process", "split"] as const)("client-side fallbacks, %s", (mode) => {
  let gw: RoutingGateway;

  beforeAll(async () => {
    gw = await startRoutingGateway(
      routingYaml(
        deployment("primary", "primary-1", primary) + deployment("backup", "backup-1", backup) + deployment("configured", "configured-1", configured),
        ["router_settings:", "  num_retries: 0", "  fallbacks: [{ primary: [configured] }]"].join("\n"),
      ),
      mode,
    );
  });

  afterAll(() => gw?.close());

  const chat = (extra: Partial<Params>, client = gw.client) =>
    client.chat.completions.create({ model: "primary", messages: [{ role: "user", content: "fall back" }], ...extra } as Params).withResponse();

  async function failure(call: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    return err as InstanceType<typeof OpenAI.APIError>;
  }

  it("answers from the request's fallbacks, in place of the config's, and keeps them from the provider", async () => {
    Object.assign(primary.behavior, { failNext: 1, failStatus: 503 });
    const { data, response } = await chat({ fallbacks: ["backup"] });
    expect(data.choices[0]?.message.content).toBe("Echo: fall back");
    expect(response.headers.get("x-litellm-model-group")).toBe("backup");
    expect(response.headers.get("x-litellm-attempted-fallbacks")).toBe("1");
    expect(chats(primary)).toHaveLength(1);
    expect(chats(configured)).toHaveLength(0);
    expect(chats(backup)[0]?.body).not.toHaveProperty("fallbacks");
    const row = await gw.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ status: "success", model_group: "backup", metadata: { original_model_group: "primary", attempted_fallbacks: 1 } });
    // Streams fall back the same way.
    Object.assign(primary.behavior, { failNext: 1, failStatus: 503 });
    const stream = await gw.client.chat.completions.create({ model: "primary", messages: [{ role: "user", content: "streamed" }], stream: true, fallbacks: ["backup"] } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: streamed");
    expect(chats(backup)).toHaveLength(2);
  });

  it("fails the first group without calling it under mock_testing_fallbacks", async () => {
    const { data, response } = await chat({ mock_testing_fallbacks: true, fallbacks: ["backup"] });
    expect(data.choices[0]?.message.content).toBe("Echo: fall back");
    expect(response.headers.get("x-litellm-model-group")).toBe("backup");
    // Without fallbacks of its own, the request tries the config's.
    const configuredAnswer = await chat({ mock_testing_fallbacks: true });
    expect(configuredAnswer.response.headers.get("x-litellm-model-group")).toBe("configured");
    expect(chats(configured)[0]?.body).not.toHaveProperty("mock_testing_fallbacks");
    expect(chats(primary)).toHaveLength(0);
    // A group with no fallbacks at all ends in the mocked failure.
    const failed = await failure(chat({ model: "backup", mock_testing_fallbacks: true }));
    expect(failed.status).toBe(500);
    expect(failed.message).toContain("mock_testing_fallbacks");
  });

  it("tries no fallback at all under disable_fallbacks, and keeps the field from the provider", async () => {
    Object.assign(primary.behavior, { failNext: 1, failStatus: 503 });
    const configuredBefore = chats(configured).length;
    const failed = await failure(chat({ disable_fallbacks: true }));
    expect(failed.status).toBe(503);
    expect(chats(configured)).toHaveLength(configuredBefore);
    expect(chats(primary).at(-1)?.body).not.toHaveProperty("disable_fallbacks");
  });

  it("refuses a fallback the key may not use, before calling anyone", async () => {
    const { json } = await admin<GeneratedKey>(gw.baseUrl, "POST", "/key/generate", { models: ["primary"] });
    const client = new OpenAI({ baseURL: `${gw.baseUrl}/v1`, apiKey: json.key, maxRetries: 0 });
    const refused = await failure(chat({ fallbacks: ["backup"] }, client));
    expect(refused.status).toBe(401);
    expect(refused.param).toBe("fallbacks");
    expect(refused.message).toContain("model=backup");
    expect(chats(primary)).toHaveLength(0);
    expect((await chat({ fallbacks: ["primary"] }, client)).data.choices[0]?.message.content).toBe("Echo: fall back");
  });

  it("renames a fallback by the key's aliases", async () => {
    const { json } = await admin<GeneratedKey>(gw.baseUrl, "POST", "/key/generate", { aliases: { "my-spare": "backup" } });
    const client = new OpenAI({ baseURL: `${gw.baseUrl}/v1`, apiKey: json.key, maxRetries: 0 });
    const { response } = await chat({ mock_testing_fallbacks: true, fallbacks: ["my-spare"] }, client);
    expect(response.headers.get("x-litellm-model-group")).toBe("backup");
  });

  it("answers an unknown or malformed fallback with a 400 naming fallbacks", async () => {
    for (const fallbacks of [["nope"], "backup", [{ model: "backup" }], [""]]) {
      const failed = await failure(chat({ fallbacks }));
      expect(failed.status, JSON.stringify(fallbacks)).toBe(400);
      expect(failed.param).toBe("fallbacks");
    }
    expect(chats(primary)).toHaveLength(0);
  });
});
