import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's budget routing through the gateway, with the official client: a
// deployment's own budget (litellm_params.max_budget) and a provider's
// (router_settings.provider_budget_config) hold with many calls in flight;
// past them requests go to other deployments or fallback groups, and with
// nowhere left the answer is LiteLLM's 429.

const MESSAGES = [{ role: "user" as const, content: "budget" }];
/** What the gateway reserves for one of these calls on gpt-4o-mini: the body's bytes as prompt tokens, and max_tokens. */
const RESERVATION = Buffer.byteLength(JSON.stringify({ model: "capped", messages: MESSAGES, max_tokens: 10 })) * 0.15e-6 + 10 * 0.6e-6;
const FITS = 3;

function config(fakeUrl: string, litellmSettings = ""): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: capped
    litellm_params: { model: openai/gpt-4o-mini, ${at}, order: 1, max_budget: ${RESERVATION * (FITS + 0.5)}, budget_duration: 1d }
    model_info: { id: capped-first }
  - model_name: capped
    litellm_params: { model: hosted_vllm/local-model, ${at}, order: 2 }
    model_info: { id: local-spare }
  - model_name: anthropic-only
    litellm_params: { model: anthropic/claude-sonnet-4-5, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: claude }
  - model_name: local
    litellm_params: { model: hosted_vllm/local-model, ${at} }
    model_info: { id: local-fallback }
router_settings:
  provider_budget_config:
    anthropic: { budget_limit: 0.000000000001, time_period: 1d }
    openai: { budget_limit: 100, time_period: 1mo }
litellm_settings:
  num_retries: 0${litellmSettings}
general_settings:
  master_key: ${MASTER_KEY}
`);
}

interface ProviderBudgets {
  providers: Record<string, { budget_limit: number; time_period: string; spend: number; budget_reset_at: string | null }>;
}

describe("budget routing, one process", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, config);
  });
  afterAll(() => setup?.close());

  const ask = (model: string) => setup.openai.chat.completions.create({ model, messages: MESSAGES, max_tokens: 10 }).withResponse();

  it("sends no more calls at once to a deployment than its budget can reserve, and the rest to the next deployment", async () => {
    // Every call is in flight before any settles.
    setup.provider.behavior.latencyMs = 300;
    try {
      const answers = await Promise.all(Array.from({ length: 10 }, () => ask("capped")));
      const by = answers.map(({ response }) => response.headers.get("x-litellm-model-id"));
      expect(by.filter((id) => id === "capped-first")).toHaveLength(FITS);
      expect(by.filter((id) => id === "local-spare")).toHaveLength(10 - FITS);
    } finally {
      setup.provider.behavior.latencyMs = 0;
    }
    // Settled at what the calls cost (far below the reservation), the budget has room again.
    const { response } = await ask("capped");
    expect(response.headers.get("x-litellm-model-id")).toBe("capped-first");
  });

  it("answers LiteLLM's 429 when every deployment is over its provider's budget, without calling the provider", async () => {
    const refused = (await ask("anthropic-only").then(
      () => undefined,
      (err: unknown) => err,
    )) as { status: number; message: string; headers: Headers };
    expect(refused).toMatchObject({
      status: 429,
      message: expect.stringContaining("No deployments available - crossed budget for model group anthropic-only: provider anthropic over budget"),
    });
    // Retry once the provider's day (UTC) has turned.
    const untilMidnight = 86_400 - Math.floor((Date.now() % 86_400_000) / 1000);
    expect(Math.abs(Number(refused.headers.get("retry-after")) - untilMidnight)).toBeLessThanOrEqual(2);
    expect(setup.provider.requests.some((r) => r.path.includes("/messages"))).toBe(false);
  });

  it("shows each provider budget's period and spend at /provider/budgets, for the master key only", async () => {
    const { json } = await admin<ProviderBudgets>(setup.gateway.baseUrl, "GET", "/provider/budgets");
    expect(Object.keys(json.providers).sort()).toEqual(["anthropic", "openai"]);
    expect(json.providers["anthropic"]).toMatchObject({ budget_limit: 1e-12, time_period: "1d", spend: 0 });
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    expect(json.providers["anthropic"]!.budget_reset_at).toBe(tomorrow.toISOString());
    const openai = json.providers["openai"]!;
    expect(openai.spend).toBeGreaterThan(0);
    expect(openai.spend).toBeLessThan((FITS + 1) * RESERVATION);
    expect(new Date(openai.budget_reset_at!).getUTCDate()).toBe(1);
    const key = (await admin<{ key: string }>(setup.gateway.baseUrl, "POST", "/key/generate", {})).json.key;
    const asKey = await fetch(`${setup.gateway.baseUrl}/provider/budgets`, { headers: { authorization: `Bearer ${key}` } });
    expect(asKey.status).toBe(401);
  });
});

describe("budget routing with a fallback group", () => {
  let setup: FakeBehindGateway;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(MODES[0]!, (url) => config(url, "\n  fallbacks: [{ anthropic-only: [local] }]"));
  });
  afterAll(() => setup?.close());

  it("answers from the fallback group when the requested one is over budget", async () => {
    const { data, response } = await setup.openai.chat.completions.create({ model: "anthropic-only", messages: MESSAGES, max_tokens: 10 }).withResponse();
    expect(data.choices[0]?.message.content).toBe("Echo: budget");
    expect(response.headers.get("x-litellm-model-group")).toBe("local");
    expect(response.headers.get("x-litellm-attempted-fallbacks")).toBe("1");
  });
});
