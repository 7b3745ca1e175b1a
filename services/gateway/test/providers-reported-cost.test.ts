import { createServer } from "node:http";
import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, startInMode, type ModeGateway } from "./support/modes.js";

// OpenRouter and Perplexity say in each answer what it cost (OpenRouter's
// usage.cost, Perplexity's usage.cost.total_cost, their fees and searches
// included): the ledger and the key's budget take that, unless the
// deployment sets prices of its own. Token counts no call has (negative,
// past 2^28) are held to what the ledger and the services' uint32s carry.
const mode = MODES[0]!;

function reportingConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: routed
    litellm_params: { model: openrouter/some-lab/new-model, ${at} }
  - model_name: routed-listed
    litellm_params: { model: openrouter/gpt-4o-mini, ${at} }
  - model_name: routed-own-price
    litellm_params: { model: openrouter/some-lab/new-model, ${at} }
    model_info: { input_cost_per_token: 0.000002, output_cost_per_token: 0.000004 }
  - model_name: search
    litellm_params: { model: perplexity/sonar-pro, ${at} }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("calls booked at the cost their provider reports", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, reportingConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const spendOf = async (response: Response) => (await gateway.spendLog(response.headers.get("x-litellm-call-id")!))["spend"];

  it("books an OpenRouter answer at its usage.cost, for a model the price list does not know and for one it does", async () => {
    provider.behavior.reportedCost = { usd: 0.00421, as: "openrouter" };
    const unknown = await client.chat.completions.create({ model: "routed", messages: [{ role: "user", content: "hello" }] }).withResponse();
    expect(unknown.data.choices[0]?.message.content).toBe("Echo: hello");
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/chat/completions", body: { model: "some-lab/new-model" } });
    expect(await spendOf(unknown.response)).toBe(0.00421);
    const listed = await client.chat.completions.create({ model: "routed-listed", messages: [{ role: "user", content: "hello" }] }).withResponse();
    expect(await spendOf(listed.response)).toBe(0.00421);
  });

  it("books a Perplexity stream at its usage.cost.total_cost, the client seeing no usage it did not ask for", async () => {
    provider.behavior.reportedCost = { usd: 0.0075, as: "perplexity" };
    const { data: stream, response } = await client.chat.completions.create({ model: "search", stream: true, messages: [{ role: "user", content: "news today" }] }).withResponse();
    let text = "";
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usageChunks += 1;
    }
    expect({ text, usageChunks }).toEqual({ text: "Echo: news today", usageChunks: 0 });
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/chat/completions", body: { model: "sonar-pro" } });
    expect(await spendOf(response)).toBe(0.0075);
  });

  it("prices by the deployment's own prices where it sets them, and by the list where no report came", async () => {
    provider.behavior.reportedCost = { usd: 0.5, as: "openrouter" };
    const own = await client.chat.completions.create({ model: "routed-own-price", messages: [{ role: "user", content: "priced" }] }).withResponse();
    const { prompt_tokens, completion_tokens } = own.data.usage!;
    expect(await spendOf(own.response)).toBeCloseTo((prompt_tokens * 2 + completion_tokens * 4) / 1e6, 12);
    delete provider.behavior.reportedCost;
    const unreported = await client.chat.completions.create({ model: "routed-listed", messages: [{ role: "user", content: "priced" }] }).withResponse();
    expect(await spendOf(unreported.response)).toBeCloseTo((unreported.data.usage!.prompt_tokens * 0.15 + unreported.data.usage!.completion_tokens * 0.6) / 1e6, 12);
  });

  it("charges a key's budget what the provider reported, for requests made at once", async () => {
    provider.behavior.reportedCost = { usd: 0.01, as: "openrouter" };
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 1 });
    const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => asKey.chat.completions.create({ model: "routed", messages: [{ role: "user", content: `call ${i}` }] })));
    await eventually("the key's spend to count every call", async () => {
      const { json } = await admin<{ info: { spend: number } }>(gateway.baseUrl, "GET", `/key/info?key=${key.key}`);
      return Math.abs(json.info.spend - 0.08) < 1e-9 ? true : undefined;
    });
  });
});

describe("token counts a provider reports that no call has, split", () => {
  const INPUT = 0.000001;
  const OUTPUT = 0.000002;
  // What the provider's next answer says it used.
  let usage: Record<string, number> = {};
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      const answer = { id: "c", object: "chat.completion", created: 1, model: "odd-model", choices: [{ index: 0, message: { role: "assistant", content: "odd" }, finish_reason: "stop" }], usage };
      res.end(JSON.stringify(answer));
    });
  });
  let gateway: ModeGateway;
  let client: OpenAI;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    gateway = await startInMode(
      MODES[1]!,
      writeConfig(`
model_list:
  - model_name: odd
    litellm_params: { model: openai/odd-model, api_base: ${url}/v1, api_key: any }
    model_info: { input_cost_per_token: ${INPUT}, output_cost_per_token: ${OUTPUT} }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`),
    );
    client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const bookedFor = async (reported: Record<string, number>) => {
    usage = reported;
    const { response } = await client.chat.completions.create({ model: "odd", messages: [{ role: "user", content: "count" }] }).withResponse();
    return gateway.spendLog(response.headers.get("x-litellm-call-id")!);
  };

  it("books a negative count as none, where its uint32 of four billion left the call without a ledger row", async () => {
    expect(await bookedFor({ prompt_tokens: -5, completion_tokens: 7, total_tokens: 2 })).toMatchObject({ prompt_tokens: 0, completion_tokens: 7, total_tokens: 7, spend: 7 * OUTPUT });
  });

  it("books a count past 2^28 as 2^28, priced as booked, where the ledger kept its low 32 bits and the price the whole", async () => {
    const row = await bookedFor({ prompt_tokens: 10, completion_tokens: 2 ** 32 + 3, total_tokens: 2 ** 32 + 13 });
    expect(row).toMatchObject({ prompt_tokens: 10, completion_tokens: 2 ** 28, total_tokens: 10 + 2 ** 28 });
    expect(row["spend"]).toBeCloseTo(10 * INPUT + 2 ** 28 * OUTPUT, 9);
  });
});
