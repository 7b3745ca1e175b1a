import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// OpenAI's legacy text completions (/v1/completions), which completion
// plugins and older scripts still call, on deployments that speak OpenAI.

describe.each(MODES)("text completions, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  it("answers a prompt with the provider's text, and books it as atext_completion", async () => {
    const { data, response } = await client.completions.create({ model: "gpt", prompt: "Say this is a test" }).withResponse();
    expect(data).toMatchObject({ object: "text_completion", choices: [{ text: "Echo: Say this is a test", finish_reason: "stop" }] });
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/completions", body: { model: "gpt-4o-mini", prompt: "Say this is a test" } });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "atext_completion", model_group: "gpt", prompt_tokens: data.usage!.prompt_tokens, completion_tokens: 6, stream: false });
  });

  it("streams text chunks ending in [DONE], with usage only when asked", async () => {
    const read = async (include_usage: boolean) => {
      const stream = await client.completions.create({ model: "gpt", prompt: "one two three", stream: true, stream_options: { include_usage } });
      let text = "";
      const usage: unknown[] = [];
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? "";
        if (chunk.usage) usage.push(chunk.usage);
      }
      return { text, usage };
    };
    expect(await read(false)).toEqual({ text: "Echo: one two three", usage: [] });
    expect(await read(true)).toEqual({ text: "Echo: one two three", usage: [{ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }] });

    // A provider that reports no usage: the gateway's own count, in a chunk shaped as the provider's.
    provider.behavior.omitStreamUsage = true;
    const { data: stream, response } = await client.completions.create({ model: "gpt", prompt: "one two three", stream: true, stream_options: { include_usage: true } }).withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)).toMatchObject({ object: "text_completion", choices: [], usage: { prompt_tokens: expect.any(Number) } });
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ usage_estimated: true, stream: true });
  });

  it("answers a prompt on a deployment that has only chat, as a chat, streamed or not", async () => {
    const whole = await client.completions.create({ model: "claude", prompt: "hi there", max_tokens: 20 });
    expect(whole).toMatchObject({ object: "text_completion", choices: [{ text: "Echo: hi there", finish_reason: "stop" }] });
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/messages", body: { max_tokens: 20, messages: [{ role: "user", content: [{ type: "text", text: "hi there" }] }] } });
    const stream = await client.completions.create({ model: "gemini-flash", prompt: "one two", stream: true, stream_options: { include_usage: true } });
    let text = "";
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      usage ??= chunk.usage ?? undefined;
    }
    expect(text).toBe("Echo: one two");
    expect(usage).toMatchObject({ completion_tokens: 3 });
  });

  it("refuses what a chat cannot answer, and a body without a prompt, before calling anyone", async () => {
    const refused = async (body: Record<string, unknown>) =>
      (await client.completions.create({ model: "claude", prompt: "hi", ...body }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect((await refused({ echo: true })).message).toContain('"echo"');
    expect((await refused({ prompt: ["one", "two"] })).param).toBe("prompt");
    const empty = (await client.completions.create({ model: "gpt", prompt: [] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty.param).toBe("prompt");
    expect(provider.requests).toHaveLength(0);
  });
});
