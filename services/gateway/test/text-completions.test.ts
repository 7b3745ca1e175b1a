import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MODES, startFakeBehindGateway, type FakeBehindGateway, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

// OpenAI's legacy text completions (/v1/completions), which completion
// plugins and older scripts still call, on deployments that speak OpenAI.

describe.each(MODES)("text completions, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  let setup: FakeBehindGateway | undefined;

  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, providersConfig);
    ({ provider, gateway, openai: client } = setup);
  });

  afterAll(() => setup?.close());

  beforeEach(() => {
    provider.requests.length = 0;
    provider.behavior.omitStreamUsage = false;
  });

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

  it("refuses a prompt for a deployment that has no text completions, and a body without a prompt", async () => {
    const claude = (await client.completions.create({ model: "claude", prompt: "hi" }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(claude).toBeInstanceOf(OpenAI.BadRequestError);
    expect(claude.message).toContain("does not serve text completions");
    const empty = (await client.completions.create({ model: "gpt", prompt: [] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty.param).toBe("prompt");
    expect(provider.requests).toHaveLength(0);
  });
});
