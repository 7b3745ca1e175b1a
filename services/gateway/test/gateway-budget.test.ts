import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// The gateway's own budget (litellm_settings.max_budget, budget_duration), as
// LiteLLM's proxy-wide budget: every model call counts, whatever the key.

const MESSAGES = [{ role: "user" as const, content: "proxy" }];
/** What the gateway reserves for one of these calls on gpt-4o-mini. */
const RESERVATION = Buffer.byteLength(JSON.stringify({ model: "fast-model", messages: MESSAGES, max_tokens: 10 })) * 0.15e-6 + 10 * 0.6e-6;

function config(fakeUrl: string, budget = true): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
${budget ? `litellm_settings:\n  max_budget: ${RESERVATION + 0.9e-6}\n  budget_duration: 30d` : ""}
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("the gateway's own budget, one process", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, config);
  });
  afterAll(() => setup?.close());

  it("refuses every key, the master key too, once the gateway's budget is spent", async () => {
    const ask = (key: string) => setup.openai.chat.completions.create({ model: "fast-model", messages: MESSAGES, max_tokens: 10 }, { headers: { authorization: `Bearer ${key}` } });
    const key = (await admin<{ key: string }>(setup.gateway.baseUrl, "POST", "/key/generate", {})).json.key;
    expect((await ask(key)).choices[0]?.message.content).toBe("Echo: proxy");
    for (const bearer of [key, MASTER_KEY]) {
      await expect(ask(bearer)).rejects.toMatchObject({ status: 400, type: "budget_exceeded", message: expect.stringContaining("Budget has been exceeded! Current cost: ") });
    }
    expect(setup.provider.requests).toHaveLength(1);
    const { json } = await admin<{ spend: number; max_budget: number; budget_duration: string; budget_reset_at: string }>(setup.gateway.baseUrl, "GET", "/global/spend");
    expect(json).toMatchObject({ max_budget: RESERVATION + 0.9e-6, budget_duration: "30d" });
    expect(json.spend).toBeGreaterThan(0.9e-6);
    expect(json.spend).toBeLessThan(RESERVATION);
    expect(Date.parse(json.budget_reset_at) % (30 * 86_400_000)).toBe(0);
  });
});

describe("/global/spend without a gateway budget", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, (url) => config(url, false));
  });
  afterAll(() => setup?.close());

  it("shows everything the ledger has booked, for the master key only", async () => {
    const { response } = await setup.openai.chat.completions.create({ model: "fast-model", messages: MESSAGES, max_tokens: 10 }).withResponse();
    const row = await setup.gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    const { json } = await admin<{ spend: number; max_budget: number | null }>(setup.gateway.baseUrl, "GET", "/global/spend");
    expect(json.max_budget).toBeNull();
    expect(json.spend).toBeCloseTo(row["spend"] as number, 12);
    const key = (await admin<{ key: string }>(setup.gateway.baseUrl, "POST", "/key/generate", {})).json.key;
    expect((await fetch(`${setup.gateway.baseUrl}/global/spend`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
  });
});
