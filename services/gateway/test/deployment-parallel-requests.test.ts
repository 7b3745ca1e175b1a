import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest } from "./support/modes.js";

// A deployment's max_parallel_requests (litellm_params, or general_settings'
// for every deployment without one): calls in flight on it at once, per
// router replica. A full deployment is passed over like one at its rate
// limit; with none left, the call gets a 429 to try again in a second.

function config(fakeUrl: string): string {
  const at = `model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: two-at-once
    litellm_params: { ${at}, max_parallel_requests: 2 }
  - model_name: pair
    litellm_params: { ${at}, max_parallel_requests: 1 }
    model_info: { id: pair-a }
  - model_name: pair
    litellm_params: { ${at}, max_parallel_requests: 1 }
    model_info: { id: pair-b }
  - model_name: defaulted
    litellm_params: { ${at} }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
  max_parallel_requests: 1
`);
}

describe("a deployment's max_parallel_requests", () => {
  let provider: FakeProvider;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(MODES[2]!, config, (setup) => {
    ({ provider, openai } = setup);
  });

  const ask = (model: string) => openai.chat.completions.create({ model, messages: [{ role: "user", content: "at once" }] }).withResponse();
  const outcomes = async (model: string, n: number) => {
    const settled = await Promise.allSettled(Array.from({ length: n }, () => ask(model)));
    return {
      served: settled.flatMap((r) => (r.status === "fulfilled" ? [r.value.response.headers.get("x-litellm-model-id")] : [])),
      refused: settled.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : [])),
    };
  };

  it("serves as many calls at once as it allows and refuses the rest with a 429, then serves again", async () => {
    provider.behavior.latencyMs = 300;
    const { served, refused } = await outcomes("two-at-once", 5);
    expect(served).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const err of refused) {
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).message).toContain("max_parallel_requests");
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get("retry-after")).toBe("1");
    }
    // The calls that ended gave their places back.
    expect((await outcomes("two-at-once", 2)).served).toHaveLength(2);
  });

  it("passes a full deployment over for another of the group", async () => {
    provider.behavior.latencyMs = 300;
    const { served, refused } = await outcomes("pair", 3);
    expect(served.sort()).toEqual(["pair-a", "pair-b"]);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it("holds a streamed call's place until its stream ends", async () => {
    provider.behavior.chunkDelayMs = 100;
    const stream = await openai.chat.completions.create({ model: "defaulted", messages: [{ role: "user", content: "a few words to stream slowly" }], stream: true });
    const chunks = stream[Symbol.asyncIterator]();
    await chunks.next();
    // general_settings.max_parallel_requests: 1 for a deployment without its own.
    await expect(ask("defaulted")).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    while (!(await chunks.next()).done);
    expect((await ask("defaulted")).response.status).toBe(200);

    // A client that hangs up mid-stream gives the place back too.
    const cut = await openai.chat.completions.create({ model: "defaulted", messages: [{ role: "user", content: "a few words to stream slowly" }], stream: true });
    await cut[Symbol.asyncIterator]().next();
    cut.controller.abort();
    await eventually(
      "the cut stream's place to come back",
      async () =>
        await ask("defaulted").then(
          () => true,
          (err: unknown) => {
            // Refused while the place is still taken, and for nothing else.
            expect(err).toBeInstanceOf(OpenAI.RateLimitError);
            return undefined;
          },
        ),
    );
  });
});
