import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

let provider: FakeProvider;
beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
});
afterAll(async () => {
  await provider?.close();
});

describe.each([
  { setting: "on", extra: "  store_prompts_in_spend_logs: true" },
  { setting: "off (the default)", extra: "" },
])("spend logs with store_prompts_in_spend_logs $setting", ({ extra }) => {
  let gateway: RunningGateway;
  let client: OpenAI;
  const on = extra !== "";

  beforeAll(async () => {
    gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url, extra), {}));
    client = new OpenAI({ baseURL: `http://127.0.0.1:${gateway.port}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  async function logged(requestId: string) {
    return eventually(`spend log ${requestId}`, async () => (await admin<Record<string, unknown>[]>(`http://127.0.0.1:${gateway.port}`, "GET", `/spend/logs?request_id=${requestId}`)).json[0]);
  }

  it("keeps a completion's messages and response only when asked to", async () => {
    const messages = [{ role: "user" as const, content: "remember this prompt" }];
    const { data, response } = await client.chat.completions.create({ model: "fast-model", messages }).withResponse();
    const row = await logged(response.headers.get("x-litellm-call-id")!);
    if (on) {
      expect(row["messages"]).toEqual(messages);
      expect((row["response"] as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe(data.choices[0]?.message.content);
    } else {
      expect(row["messages"]).toEqual({});
      expect(row["response"]).toEqual({});
    }
  });

  it("keeps a stream's text as its response", async () => {
    const { data, response } = await client.chat.completions.create({ model: "fast-model", stream: true, messages: [{ role: "user", content: "stream it" }] }).withResponse();
    let text = "";
    for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? "";
    const row = await logged(response.headers.get("x-litellm-call-id")!);
    expect(row["response"]).toEqual(on ? { role: "assistant", content: text } : {});
  });
});
