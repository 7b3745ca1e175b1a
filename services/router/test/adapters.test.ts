import { ConfigError, parseConfig } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Deployment } from "../src/config/deployment.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { adapterFor, checkDeployments, SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import type { ProviderCall } from "../src/providers/provider.js";

const KEY = "sk-fake-provider-key-123456";

function groups(models: string): ModelGroups {
  return ModelGroups.fromConfig(parseConfig(`model_list:\n${models}`), SUPPORTED_PROVIDERS);
}

async function drain(items: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  for await (const _ of items) count += 1;
  return count;
}

describe("provider adapters against the fake provider", () => {
  let provider: FakeProvider;
  let models: ModelGroups;

  const deployment = (name: string) => models.get(name)![0] as Deployment;
  const call = (name: string, body: Record<string, unknown>): ProviderCall => ({
    deployment: deployment(name),
    body,
    signal: AbortSignal.timeout(10_000),
    headers: {},
  });
  const hello = { messages: [{ role: "user", content: "one two three" }] };

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: KEY } });
    const at = (name: string, model: string, base: string) => `  - { model_name: ${name}, litellm_params: { model: ${model}, api_base: "${base}", api_key: ${KEY} } }\n`;
    models = groups(
      at("claude-host", "anthropic/claude-x", provider.url) +
        at("claude-v1", "anthropic/claude-x", `${provider.url}/v1`) +
        at("claude-full", "anthropic/claude-x", `${provider.url}/v1/messages`) +
        at("gemini-versioned", "gemini/gemini-x", `${provider.url}/v1beta`) +
        at("gpt", "openai/gpt-x", `${provider.url}/v1`) +
        at("reasoning", "openai/o4-mini", `${provider.url}/v1`),
    );
  });

  afterAll(() => provider.close());

  beforeEach(() => {
    provider.requests.length = 0;
    delete provider.behavior.breakStreamAfterChunks;
  });

  it("sends max_tokens to OpenAI's reasoning models as max_completion_tokens, the only one they take, and to others as it came", async () => {
    await adapterFor(deployment("reasoning")).chat(call("reasoning", { ...hello, max_tokens: 50 }));
    await drain(await adapterFor(deployment("reasoning")).chatStream(call("reasoning", { ...hello, max_tokens: 60 })));
    await adapterFor(deployment("reasoning")).chat(call("reasoning", { ...hello, max_tokens: 70, max_completion_tokens: 80 }));
    await adapterFor(deployment("gpt")).chat(call("gpt", { ...hello, max_tokens: 90 }));
    const sent = provider.requests.map((r) => r.body as Record<string, unknown>);
    expect(sent.map((b) => [b["max_tokens"], b["max_completion_tokens"]])).toEqual([
      [undefined, 50],
      [undefined, 60],
      [undefined, 80],
      [90, undefined],
    ]);
  });

  it("answers a mock_response deployment without calling anyone, chat and text completions, whole and streamed", async () => {
    const mock = groups('  - { model_name: demo, litellm_params: { model: openai/gpt-x, mock_response: "Hi there, homelab." } }\n').get("demo")![0] as Deployment;
    const mockCall = { deployment: mock, body: hello, signal: AbortSignal.timeout(10_000), headers: {} };
    const whole = await adapterFor(mock).chat(mockCall);
    expect(whole.response["choices"]).toEqual([{ index: 0, message: { role: "assistant", content: "Hi there, homelab." }, finish_reason: "stop" }]);
    const chunks: Record<string, unknown>[] = [];
    for await (const chunk of await adapterFor(mock).chatStream(mockCall)) chunks.push(chunk.json);
    const deltas = chunks.map((c) => (c["choices"] as { delta: { content?: string } }[])[0]?.delta.content ?? "");
    expect(deltas).toEqual(["", "Hi ", "there, ", "homelab.", "", ""]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: whole.usage!.completionTokens } });

    const textCall = { ...mockCall, body: { prompt: "one two three" } };
    const text = await adapterFor(mock).textCompletion!(textCall);
    expect(text.response).toMatchObject({ object: "text_completion", choices: [{ text: "Hi there, homelab.", finish_reason: "stop" }] });
    expect(text.usage).toMatchObject({ promptTokens: 4, completionTokens: whole.usage!.completionTokens });
    let streamed = "";
    for await (const chunk of await adapterFor(mock).textCompletionStream!(textCall)) streamed += (chunk.json["choices"] as { text: string }[])[0]?.text ?? "";
    expect(streamed).toBe("Hi there, homelab.");
    expect(provider.requests).toHaveLength(0);
  });

  it("reaches Anthropic's endpoint whether api_base names the host, its /v1 or the endpoint", async () => {
    for (const name of ["claude-host", "claude-v1", "claude-full"]) {
      const result = await adapterFor(deployment(name)).chat(call(name, hello));
      expect(result.usage?.completionTokens).toBe(4);
    }
    expect(provider.requests.map((r) => r.path)).toEqual(["/v1/messages", "/v1/messages", "/v1/messages"]);
  });

  it("takes a Gemini api_base that already names the API version", async () => {
    await adapterFor(deployment("gemini-versioned")).chat(call("gemini-versioned", hello));
    expect(provider.requests.at(-1)?.path).toBe("/v1beta/models/gemini-x:generateContent");
  });

  it("throws a ProviderError when a stream breaks, in every format", async () => {
    provider.behavior.breakStreamAfterChunks = 1;
    for (const name of ["claude-host", "gemini-versioned", "gpt"]) {
      const chunks = await adapterFor(deployment(name)).chatStream(call(name, { ...hello, stream: true }));
      await expect(drain(chunks)).rejects.toEqual(expect.objectContaining({ name: "ProviderError", status: 502 }));
    }
    const events = await adapterFor(deployment("claude-host")).messagesStream!(call("claude-host", { ...hello, max_tokens: 10 }));
    await expect(drain(events)).rejects.toMatchObject({ status: 502, type: "api_error" });
  });

  it("passes native Messages streams through event by event, ping included", async () => {
    const events = await adapterFor(deployment("claude-host")).messagesStream!(call("claude-host", { ...hello, max_tokens: 10 }));
    const names: string[] = [];
    for await (const event of events) names.push(event.name);
    expect(names).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("refuses at config load an azure deployment without api_base", () => {
    const azure = groups("  - { model_name: a, litellm_params: { model: azure/my-gpt, api_key: k } }\n");
    expect(() => checkDeployments(azure)).toThrow(ConfigError);
    expect(() => checkDeployments(groups(`  - { model_name: a, litellm_params: { model: azure/my-gpt, api_base: "https://r.openai.azure.com" } }\n`))).not.toThrow();
  });

  it("refuses at config load a model that names its provider and no model", () => {
    expect(() => groups("  - { model_name: a, litellm_params: { model: openai/ } }\n")).toThrow(/"openai\/" names no model after its provider/);
  });
});
