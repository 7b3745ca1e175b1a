import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// litellm_settings.disable_end_user_cost_tracking: the ledger books no end
// user (so no per-customer spend is kept), while customers' blocks and
// budgets still hold. Booked on Postgres through NATS, as deployed.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  disable_end_user_cost_tracking: true
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("litellm_settings.disable_end_user_cost_tracking", () => {
  let gateway: ModeGateway;
  let openai: OpenAI;
  fakeBehindGatewayPerTest(MODES[0]!, config, (setup) => {
    ({ gateway, openai } = setup);
  });

  const ask = (user: string) => openai.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "who am I for" }], user }).withResponse();

  it("books no end user, and still refuses a blocked one", async () => {
    const { response } = await ask("acme");
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["end_user"]).toBe("");
    const day = new Date().toISOString().slice(0, 10);
    const activity = await admin<{ metadata: { total_api_requests: number } }>(gateway.baseUrl, "GET", `/customer/daily/activity?start_date=${day}&end_date=${day}`);
    expect(activity.json.metadata.total_api_requests).toBe(0);

    await admin(gateway.baseUrl, "POST", "/customer/block", { user_ids: ["mallory"] });
    await expect(ask("mallory")).rejects.toMatchObject({ status: 400, code: "customer_blocked" });
  });
});
