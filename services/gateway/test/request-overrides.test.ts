import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest } from "./support/modes.js";

// LiteLLM's per-request retries and timeouts: the x-litellm-num-retries,
// x-litellm-timeout and x-litellm-stream-timeout headers, or the body's
// num_retries, timeout and stream_timeout, over the config's, for that
// request alone; none of the fields reaches the provider.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 2
  request_timeout: 30
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe.each([MODES[0]!, MODES[1]!])("per-request retries and timeout, $name", (mode) => {
  let provider: FakeProvider;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(mode, config, (setup) => ({ provider, openai } = setup));

  const ask = (extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    openai.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "override" }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming, { headers });
  const chatCalls = () => provider.requests.filter((r) => r.path === "/v1/chat/completions").length;

  it("retries as the request says, not as the config does", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 503 });
    expect((await ask()).choices[0]?.message.content).toBe("Echo: override");
    expect(chatCalls()).toBe(2);
    for (const [extra, headers] of [[{ num_retries: 0 }, {}], [{ num_retries: 2 }, { "x-litellm-num-retries": "0" }]] as const) {
      Object.assign(provider.behavior, { failNext: 1 });
      const before = chatCalls();
      await expect(ask(extra, headers)).rejects.toBeInstanceOf(OpenAI.APIError);
      expect(chatCalls() - before).toBe(1);
    }
    await ask({ num_retries: 1 });
    expect(provider.requests.at(-1)?.body).not.toHaveProperty("num_retries");
  });

  it("gives a provider call the request's timeout, not the config's", async () => {
    provider.behavior.latencyMs = 2_000;
    for (const [extra, headers] of [[{ timeout: 0.2 }, {}], [{ timeout: 30 }, { "x-litellm-timeout": "0.2" }]] as const) {
      const failed = await ask({ ...extra, num_retries: 0 }, headers).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(OpenAI.APIError);
      expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    }
  });

  it("gives a stream the request's stream timeout for its first part, and leaves whole answers to the timeout", async () => {
    provider.behavior.latencyMs = 600;
    for (const [extra, headers] of [[{ stream_timeout: 0.2 }, {}], [{ stream_timeout: 30 }, { "x-litellm-stream-timeout": "0.2" }], [{ timeout: 30, stream_timeout: 0.2 }, {}]] as const) {
      const stream = openai.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "slow" }], stream: true, num_retries: 0, ...extra } as unknown as OpenAI.ChatCompletionCreateParamsStreaming, {
        headers,
      });
      const failed = await stream.catch((err: unknown) => err);
      expect(failed, JSON.stringify(extra)).toBeInstanceOf(OpenAI.APIError);
      expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    }
    expect(provider.requests.at(-1)?.body).not.toHaveProperty("stream_timeout");
    // The stream timeout is a stream's alone.
    expect((await ask({ num_retries: 0 }, { "x-litellm-stream-timeout": "0.2" })).choices[0]?.message.content).toBe("Echo: override");
  });

  it("answers a bad value with a 400 naming it, before calling anyone", async () => {
    const before = chatCalls();
    for (const [extra, headers, param] of [
      [{ num_retries: 11 }, {}, "num_retries"],
      [{ timeout: "soon" }, {}, "timeout"],
      [{}, { "x-litellm-num-retries": "-1" }, "x-litellm-num-retries"],
      [{}, { "x-litellm-timeout": "0" }, "x-litellm-timeout"],
      [{ stream_timeout: -1 }, {}, "stream_timeout"],
      [{}, { "x-litellm-stream-timeout": "never" }, "x-litellm-stream-timeout"],
    ] as const) {
      const failed = await ask(extra, headers).catch((err: unknown) => err);
      expect(failed, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect((failed as InstanceType<typeof OpenAI.BadRequestError>).param).toBe(param);
    }
    expect(chatCalls()).toBe(before);
  });
});
