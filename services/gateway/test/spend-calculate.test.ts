import type { FakeProvider } from "@gateway/fake-provider";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's POST /spend/calculate: what a call costs before it is made (model
// and messages) and after (its completion_response), at the prices the ledger
// books by. The router prices it, so it is checked in one process and split.

const INPUT = 0.000002;
const OUTPUT = 0.000008;

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: own-price
    litellm_params: { model: openai/some-private-model, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { input_cost_per_token: ${INPUT}, output_cost_per_token: ${OUTPUT} }
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
router_settings:
  model_group_alias: { cheap: own-price }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe.each([MODES[0]!, MODES[1]!])("POST /spend/calculate, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(mode, config, (setup) => {
    ({ provider, gateway, openai } = setup);
  });

  const calculate = async (body: unknown, key = MASTER_KEY) => {
    const res = await fetch(`${gateway.baseUrl}/spend/calculate`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { cost: number; error: { message: string; type: string } } };
  };

  it("prices messages before the call at the model group's (or alias's) input price", async () => {
    // 44 characters: 11 tokens at the gateway's estimate of four characters a token.
    const messages = [{ role: "user", content: "How much will this question cost to answer?" }, { role: "user", content: "!" }];
    const before = await calculate({ model: "own-price", messages });
    expect(before.status).toBe(200);
    expect(before.json.cost).toBeCloseTo(11 * INPUT, 15);
    expect((await calculate({ model: "cheap", messages })).json.cost).toBeCloseTo(11 * INPUT, 15);
    // A provider's model no group has: the price list's; one it does not know either: 0.
    expect((await calculate({ model: "openai/gpt-4o-mini", messages })).json.cost).toBeGreaterThan(0);
    expect((await calculate({ model: "no-such-model", messages })).json).toEqual({ cost: 0 });
    // Messages over the management routes' 1 MB limit, as a chat request may carry, are priced too.
    const long = await calculate({ model: "own-price", messages: [{ role: "user", content: "abcd".repeat(500_000) }] });
    expect(long.status).toBe(200);
    expect(long.json.cost).toBeCloseTo(500_000 * INPUT, 10);
  });

  it("prices a completion after the call as the ledger booked it, cached tokens included, for any key", async () => {
    Object.assign(provider.behavior, { cachedPromptTokens: 4 });
    const { data, response } = await openai.chat.completions
      .create({ model: "fast-model", messages: [{ role: "user", content: "a prompt long enough to have some of it cached" }] })
      .withResponse();
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(4);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    const { json: key } = await admin<{ key: string }>(gateway.baseUrl, "POST", "/key/generate", { models: ["own-price"] });
    const after = await calculate({ completion_response: data }, key.key);
    expect(after.status).toBe(200);
    expect(after.json.cost).toBeGreaterThan(0);
    expect(after.json.cost).toBeCloseTo(row["spend"] as number, 15);
    // At the group's own prices, by its usage alone.
    const usage = { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 };
    expect((await calculate({ completion_response: { model: "own-price", usage } })).json.cost).toBeCloseTo(1000 * INPUT + 100 * OUTPUT, 15);
  });

  it("answers a request it cannot price with an OpenAI-style 400, and a bad key with 401", async () => {
    for (const [body, message] of [
      [{ model: "own-price" }, "messages must be provided if 'model' is provided"],
      [{}, "Either 'model' or 'completion_response' must be provided"],
      [{ completion_response: { model: "own-price" } }, "completion_response.usage is required"],
      [{ completion_response: { model: "own-price", usage: { prompt_tokens: 1, prompt_tokens_details: { cached_tokens: 5 } } } }, "cached and cache-written tokens are part of the prompt tokens, so they cannot be more"],
    ] as const) {
      const { status, json } = await calculate(body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.error).toMatchObject({ message, type: "invalid_request_error" });
    }
    expect((await calculate({ model: "own-price", messages: [] }, "sk-not-a-key")).status).toBe(401);
  });

  it("refuses a reported count that is not a whole number up to 2147483647, naming it, and prices one that is in full", async () => {
    // Split, 2^32 + 1 completion tokens reached the router as one, and were priced so.
    for (const [usage, param] of [
      [{ prompt_tokens: 10, completion_tokens: 2 ** 32 + 1 }, "completion_response.usage.completion_tokens"],
      [{ prompt_tokens: 2 ** 31 }, "completion_response.usage.prompt_tokens"],
      [{ prompt_tokens: 10, prompt_tokens_details: { cached_tokens: -1 } }, "completion_response.usage.prompt_tokens_details.cached_tokens"],
      [{ prompt_tokens: 10, cache_read_input_tokens: 1.5 }, "completion_response.usage.cache_read_input_tokens"],
      [{ prompt_tokens: 10, cache_creation_input_tokens: "3" }, "completion_response.usage.cache_creation_input_tokens"],
    ] as const) {
      const { status, json } = await calculate({ completion_response: { model: "own-price", usage } });
      expect(status, JSON.stringify(usage)).toBe(400);
      expect(json.error, JSON.stringify(usage)).toMatchObject({ type: "invalid_request_error", param, message: `${param} must be a whole number up to 2147483647` });
    }
    const most = 2_147_483_647;
    const { status, json } = await calculate({ completion_response: { model: "own-price", usage: { prompt_tokens: 10, completion_tokens: most, prompt_tokens_details: { cached_tokens: null } } } });
    expect(status).toBe(200);
    expect(json.cost).toBeCloseTo(10 * INPUT + most * OUTPUT, 6);
  });
});
