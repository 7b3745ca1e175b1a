import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// cohere/ and cohere_chat/ deployments through Cohere's Compatibility API
// (OpenAI's chat and embeddings), which refuses stream_options: streams go
// without it and their tokens are counted locally.

function config(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY, input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001`;
  return writeConfig(`
model_list:
  - model_name: command
    litellm_params: { model: cohere_chat/command-a-03-2025, ${at} }
  - model_name: embed
    litellm_params: { model: cohere/embed-v4.0, ${at} }
    model_info: { mode: embedding }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("Cohere's Compatibility API", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, config);
  });
  afterAll(() => setup?.close());

  const sent = () => setup.provider.requests.at(-1)!.body as Record<string, unknown>;

  it("streams a chat without stream_options, and books the tokens it counted", async () => {
    const { data: stream, response } = await setup.openai.chat.completions
      .create({ model: "command", messages: [{ role: "user", content: "cohere" }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    // Asked for, the usage chunk comes all the same, with the local count.
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number) });
    expect(text).toBe("Echo: cohere");
    expect(sent()).toMatchObject({ model: "command-a-03-2025", stream: true });
    expect(sent()).not.toHaveProperty("stream_options");
    const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["completion_tokens"]).toBeGreaterThan(0);
    expect(row["spend"]).toBeGreaterThan(0);
  });

  it("answers whole chats and embeddings at the model's own name", async () => {
    const chat = await setup.openai.chat.completions.create({ model: "command", messages: [{ role: "user", content: "whole" }] });
    expect(chat.choices[0]?.message.content).toBe("Echo: whole");
    expect(sent()).toMatchObject({ model: "command-a-03-2025" });
    const embedded = await setup.openai.embeddings.create({ model: "embed", input: ["one", "two"] });
    expect(embedded.data).toHaveLength(2);
    expect(setup.provider.requests.at(-1)).toMatchObject({ path: "/v1/embeddings", body: { model: "embed-v4.0" } });
  });
});

