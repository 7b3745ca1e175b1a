import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM passes a deployment's litellm_params into every call to it, under
// what the request sets itself; people keep sampling settings, a proxy's own
// headers and a server's extra fields there.
const config = (url: string) =>
  writeConfig(`
model_list:
  - model_name: tuned-gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: ${url}/v1
      api_key: os.environ/FAKE_PROVIDER_KEY
      temperature: 0.2
      max_tokens: 300
      seed: 7
      reasoning_effort: low
      stop: ["END"]
      organization: org-homelab
      extra_headers: { X-Team: platform }
      extra_body: { repetition_penalty: 1.1 }
  - model_name: tuned-claude
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_base: ${url}
      api_key: os.environ/FAKE_PROVIDER_KEY
      temperature: 0.5
      top_k: 40
      max_tokens: 512
      stop: "END"
  - model_name: tuned-embed
    litellm_params: { model: openai/text-embedding-3-small, api_base: ${url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY, dimensions: 8 }
general_settings:
  master_key: ${MASTER_KEY}
`);

// The router applies them alike in every mode; one mode is enough.
describe(`a deployment's call parameters and headers from litellm_params, ${MODES[0]!.name}`, () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(MODES[0]!, config, (setup) => ({ provider, gateway, openai: client } = setup));

  const upstream = () => provider.requests.at(-1)!;

  it("fill what a chat request leaves unset, with the deployment's headers and extra body fields", async () => {
    await client.chat.completions.create({ model: "tuned-gpt", messages: [{ role: "user", content: "hi" }] });
    expect(upstream().body).toMatchObject({ model: "gpt-4o-mini", temperature: 0.2, max_tokens: 300, seed: 7, reasoning_effort: "low", stop: ["END"], repetition_penalty: 1.1 });
    expect(upstream().headers).toMatchObject({ "openai-organization": "org-homelab", "x-team": "platform" });
    // The gateway's own credential is still the one that goes upstream.
    expect(upstream().headers["authorization"]).toBe(`Bearer ${process.env["FAKE_PROVIDER_KEY"]}`);
  });

  it("leave what the request sets, streamed too", async () => {
    const stream = await client.chat.completions.create({ model: "tuned-gpt", messages: [{ role: "user", content: "hi" }], temperature: 0.9, max_completion_tokens: 20, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: hi");
    const body = upstream().body as Record<string, unknown>;
    expect(body).toMatchObject({ temperature: 0.9, max_completion_tokens: 20, seed: 7, stream: true });
    expect(body).not.toHaveProperty("max_tokens");
  });

  it("reach Anthropic as its own parameters, from a chat or from a Messages request", async () => {
    await client.chat.completions.create({ model: "tuned-claude", messages: [{ role: "user", content: "hi" }] });
    expect(upstream().path).toBe("/v1/messages");
    expect(upstream().body).toMatchObject({ temperature: 0.5, top_k: 40, max_tokens: 512, stop_sequences: ["END"] });

    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "tuned-claude", max_tokens: 64, messages: [{ role: "user", content: "hello" }] });
    expect(message.content).toEqual([{ type: "text", text: "Echo: hello" }]);
    expect(upstream().body).toMatchObject({ temperature: 0.5, top_k: 40, max_tokens: 64, stop_sequences: ["END"] });
  });

  it("reach a Responses request by its own names", async () => {
    await client.responses.create({ model: "tuned-gpt", input: "hi" });
    expect(upstream().path).toBe("/v1/responses");
    expect(upstream().body).toMatchObject({ temperature: 0.2, max_output_tokens: 300, reasoning: { effort: "low" }, repetition_penalty: 1.1 });
    expect(upstream().body).not.toHaveProperty("max_tokens");
    expect(upstream().body).not.toHaveProperty("reasoning_effort");
  });

  it("fill an embeddings request's dimensions", async () => {
    const { data } = await client.embeddings.create({ model: "tuned-embed", input: "some text", encoding_format: "float" });
    expect(upstream().body).toMatchObject({ dimensions: 8, encoding_format: "float" });
    expect(data[0]!.embedding.length).toBeGreaterThan(0);
  });
});
