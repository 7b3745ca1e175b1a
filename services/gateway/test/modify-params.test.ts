import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest } from "./support/modes.js";

// LiteLLM's litellm_settings.modify_params: an OpenAI history that calls tools,
// sent on without them (a summary step of an agent, say), is refused by
// Anthropic and Bedrock; with modify_params the gateway makes it acceptable.
const mode = MODES[0]!;

const config = (modifyParams: boolean) => (fakeUrl: string) =>
  writeConfig(`
model_list:
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: claude-bedrock
    litellm_params: { model: bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
  modify_params: ${modifyParams}
general_settings:
  master_key: ${MASTER_KEY}
`);

// A history with a tool call and its result, and no tools offered now.
const history: OpenAI.ChatCompletionMessageParam[] = [
  { role: "user", content: "weather in Paris?" },
  { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
  { role: "tool", tool_call_id: "call_1", content: "sunny" },
  { role: "user", content: "summarize the weather" },
];

describe("a tool history without tools, with modify_params", () => {
  let provider: FakeProvider;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, config(true), (setup) => ({ provider, openai: client } = setup));

  it("is taken by Anthropic and Bedrock, offered a placeholder tool", async () => {
    // (The fake calls the first tool offered to a user's last turn; a model is told not to call this one.)
    const anthropic = await client.chat.completions.create({ model: "claude", messages: history });
    expect(anthropic.object).toBe("chat.completion");
    expect((provider.requests.at(-1)!.body as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(["placeholder_tool"]);

    const bedrock = await client.chat.completions.create({ model: "claude-bedrock", messages: history });
    expect(bedrock.object).toBe("chat.completion");
    expect(provider.requests.at(-1)!.body).toMatchObject({ toolConfig: { tools: [{ toolSpec: { name: "placeholder_tool" } }] } });
  });

  it("puts a user turn first when the conversation starts with the assistant", async () => {
    const answer = await client.chat.completions.create({
      model: "claude-bedrock",
      messages: [
        { role: "assistant", content: "Hello, how can I help?" },
        { role: "user", content: "hi there" },
      ],
    });
    expect(answer.choices[0]!.message.content).toBe("Echo: hi there");
    expect((provider.requests.at(-1)!.body as { messages: unknown[] }).messages[0]).toEqual({ role: "user", content: [{ text: "." }] });
  });
});

describe("a tool history without tools, without modify_params", () => {
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, config(false), (setup) => ({ openai: client } = setup));

  it("gets the provider's refusal, as from LiteLLM", async () => {
    for (const model of ["claude", "claude-bedrock"]) {
      const refused = await client.chat.completions.create({ model, messages: history }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.APIError>).message).toMatch(/must define tools|toolConfig field must be defined/);
    }
  });
});
