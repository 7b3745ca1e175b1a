import { eventually, sameMinute } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's budgets (/budget/*) as customers' pricing tiers, with the official
// client, one process and split: each customer naming a budget is held to its
// limits on its own, a change to the budget reaches its customers, a
// max_budget it gains counts what its customers and organizations had spent,
// end users without limits are held to max_end_user_budget_id's, and a budget
// in use cannot be deleted.

// Every end user without limits of its own is held to default-tier once it is made.
const config = (url: string) =>
  writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
  max_end_user_budget_id: default-tier
general_settings:
  master_key: ${MASTER_KEY}
`);

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`budgets as customers' pricing tiers, ${mode.name}`, () => {
    let gateway: ModeGateway;
    let client: OpenAI;
    fakeBehindGatewayPerTest(mode, config, (setup) => ({ gateway, openai: client } = setup));

    const chat = (user: string) => client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "tiered" }], user });
    const post = (path: string, body: unknown) => admin<Record<string, unknown>>(gateway.baseUrl, "POST", path, body);

    it("holds each customer on a budget to its rpm on its own, and follows the budget's change", async () => {
      await sameMinute();
      const made = await post("/budget/new", { budget_id: "free-tier", rpm_limit: 1, max_budget: 10, budget_duration: "30d", soft_budget: 8 });
      expect(made).toEqual({
        status: 200,
        json: expect.objectContaining({ budget_id: "free-tier", rpm_limit: 1, tpm_limit: null, max_budget: 10, soft_budget: 8, budget_duration: "30d" }),
      });
      for (const user_id of ["alice", "bob"]) expect((await post("/customer/new", { user_id, budget_id: "free-tier" })).status).toBe(200);
      // A budget of its own or a shared one, not both, as LiteLLM's.
      const both = await post("/customer/new", { user_id: "carol", budget_id: "free-tier", max_budget: 5 });
      expect(both).toMatchObject({ status: 400, json: { error: { param: "budget_id", message: "Set either 'max_budget' or 'budget_id', not both." } } });
      const info = await admin<Record<string, unknown>>(gateway.baseUrl, "GET", "/customer/info?end_user_id=alice");
      expect(info.json).toMatchObject({ user_id: "alice", budget_id: "free-tier", litellm_budget_table: { budget_id: "free-tier", rpm_limit: 1, max_budget: 10 } });

      await chat("alice");
      const refused = await chat("alice").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      await chat("bob");

      expect((await post("/budget/update", { budget_id: "free-tier", rpm_limit: 5, soft_budget: null })).json).toMatchObject({ rpm_limit: 5, soft_budget: null });
      await chat("alice");
      const listed = await admin<Record<string, unknown>[]>(gateway.baseUrl, "GET", "/budget/list");
      expect(listed.json).toEqual(expect.arrayContaining([expect.objectContaining({ budget_id: "free-tier", rpm_limit: 5 })]));
      expect((await post("/budget/info", { budgets: ["free-tier", "nope"] })).json).toEqual([expect.objectContaining({ budget_id: "free-tier" })]);

      // LiteLLM's /budget/settings: each field with its type and value.
      const fields = await admin<{ field_name: string; field_type: string; field_value: unknown; stored_in_db: boolean }[]>(gateway.baseUrl, "GET", "/budget/settings?budget_id=free-tier");
      expect(fields.status).toBe(200);
      expect(fields.json.map((f) => [f.field_name, f.field_type, f.field_value])).toEqual([
        ["max_budget", "Float", 10],
        ["soft_budget", "Float", null],
        ["max_parallel_requests", "Integer", null],
        ["tpm_limit", "Integer", null],
        ["rpm_limit", "Integer", 5],
        ["budget_duration", "String", "30d"],
        ["model_max_budget", "Object", null],
      ]);
      expect((await admin(gateway.baseUrl, "GET", "/budget/settings?budget_id=nope")).status).toBe(404);
      expect((await admin(gateway.baseUrl, "GET", "/budget/settings")).status).toBe(400);
    });

    it("holds every end user without limits of its own to max_end_user_budget_id, each on its own", async () => {
      await sameMinute();
      expect((await post("/budget/new", { budget_id: "default-tier", rpm_limit: 1 })).status).toBe(200);
      await chat("walk-in");
      const refused = await chat("walk-in").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect((refused as InstanceType<typeof OpenAI.RateLimitError>).message).toContain("rpm limit (1) reached for this customer");
      await chat("another-walk-in");
      // Requests naming no end user are not held to it.
      for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "no end user" }] });
    });

    it("counts what a customer and an organization on a budget had spent when the budget gains a max_budget", async () => {
      expect((await post("/budget/new", { budget_id: "capped-later" })).status).toBe(200);
      expect((await post("/customer/new", { user_id: "early-customer", budget_id: "capped-later" })).status).toBe(200);
      const organizationId = (await post("/organization/new", { organization_alias: "Early Inc", budget_id: "capped-later" })).json["organization_id"] as string;
      const team = await post("/team/new", { organization_id: organizationId });
      const { json: teamKey } = await post("/key/generate", { team_id: team.json["team_id"] });
      const asTeam = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: (teamKey as unknown as GeneratedKey).key, maxRetries: 0 });

      // A long prompt, echoed back, costs far more than a one-token probe may.
      const long = [{ role: "user" as const, content: "spend ".repeat(2000) }];
      await client.chat.completions.create({ model: "fast-model", messages: long, user: "early-customer" });
      await asTeam.chat.completions.create({ model: "fast-model", messages: long });
      const spendShown = async (path: string) => (await admin<{ spend: number }>(gateway.baseUrl, "GET", path)).json.spend;
      const customerInfo = "/customer/info?end_user_id=early-customer";
      const organizationInfo = `/organization/info?organization_id=${organizationId}`;
      const inLedger = (path: string) =>
        eventually(`${path}'s spend in the ledger`, async () => {
          const spend = await spendShown(path);
          return spend > 0 ? spend : undefined;
        });
      const [customerSpent, organizationSpent] = [await inLedger(customerInfo), await inLedger(organizationInfo)];

      const probe = (via: OpenAI, user?: string) =>
        via.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "probe" }], max_tokens: 1, ...(user !== undefined && { user }) });
      // Half what each spent: both are over it, where starting from nothing a probe would fit many times.
      expect((await post("/budget/update", { budget_id: "capped-later", max_budget: Math.min(customerSpent, organizationSpent) / 2 })).status).toBe(200);
      await expect(probe(client, "early-customer")).rejects.toMatchObject({ status: 400, message: expect.stringContaining("ExceededBudget: End User=early-customer over budget.") });
      await expect(probe(asTeam)).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`Budget has been exceeded! Organization=${organizationId} `) });
      expect(await spendShown(customerInfo)).toBeCloseTo(customerSpent, 12);
      expect(await spendShown(organizationInfo)).toBeCloseTo(organizationSpent, 12);

      // Half as much again as each spent: their spend still counted, and room for a probe.
      expect((await post("/budget/update", { budget_id: "capped-later", max_budget: Math.max(customerSpent, organizationSpent) * 1.5 })).status).toBe(200);
      expect(await spendShown(customerInfo)).toBeCloseTo(customerSpent, 12);
      expect(await spendShown(organizationInfo)).toBeCloseTo(organizationSpent, 12);
      await probe(client, "early-customer");
      await probe(asTeam);
    });

    /** Each end user's spend once the ledger shows its call: a long prompt each. */
    async function spendAs(users: string[]): Promise<Map<string, number>> {
      const long = [{ role: "user" as const, content: "spend ".repeat(2000) }];
      const spent = new Map<string, number>();
      for (const user of users) {
        await client.chat.completions.create({ model: "fast-model", messages: long, user });
        const info = `/customer/info?end_user_id=${user}`;
        spent.set(
          user,
          await eventually(`${user}'s spend in the ledger`, async () => {
            const { spend } = (await admin<{ spend: number }>(gateway.baseUrl, "GET", info)).json;
            return spend > 0 ? spend : undefined;
          }),
        );
      }
      return spent;
    }
    const probeAs = (user: string) => client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "probe" }], max_tokens: 1, user });

    it("counts what end users held to max_end_user_budget_id had spent when it gains a max_budget", async () => {
      // Made again without the rpm_limit an earlier test gave it (a 404 when that did not run).
      await post("/budget/delete", { id: "default-tier" });
      expect((await post("/budget/new", { budget_id: "default-tier" })).status).toBe(200);
      // One named by no customer row, one by a row without limits: both held to the default.
      expect((await post("/customer/new", { user_id: "plain-customer" })).status).toBe(200);
      const spent = await spendAs(["walk-in-spender", "plain-customer"]);
      // Half what each spent: both are over it, where starting from nothing a probe would fit many times.
      expect((await post("/budget/update", { budget_id: "default-tier", max_budget: Math.min(...spent.values()) / 2 })).status).toBe(200);
      for (const user of spent.keys()) await expect(probeAs(user)).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`End User=${user} over budget.`) });
      await probeAs("new-walk-in");

      // Half as much again as each spent: their spend still counted, and room for a probe.
      expect((await post("/budget/update", { budget_id: "default-tier", max_budget: Math.max(...spent.values()) * 1.5 })).status).toBe(200);
      for (const user of spent.keys()) await probeAs(user);
    });

    it("counts what end users had spent before max_end_user_budget_id's budget was made with a max_budget", async () => {
      // The config names it before it exists (a 404 when no earlier test made it).
      await post("/budget/delete", { id: "default-tier" });
      expect((await post("/customer/new", { user_id: "early-plain" })).status).toBe(200);
      const spent = await spendAs(["early-walk-in", "early-plain"]);
      // Half what each spent, in periods from the budget's making: both are over it, a newcomer is not.
      const made = await post("/budget/new", { budget_id: "default-tier", max_budget: Math.min(...spent.values()) / 2, budget_duration: "30d" });
      expect(made.status).toBe(200);
      for (const user of spent.keys()) await expect(probeAs(user)).rejects.toMatchObject({ status: 400, message: expect.stringContaining(`End User=${user} over budget.`) });
      await probeAs("later-walk-in");
    });

    it("refuses an unknown budget_id, a budget's deletion while in use, and callers other than admins", async () => {
      const unknown = await post("/customer/new", { user_id: "carol", budget_id: "no-such-tier" });
      expect(unknown.status).toBe(400);
      expect(JSON.stringify(unknown.json)).toContain("budget_id=no-such-tier does not exist");
      await post("/budget/new", { budget_id: "busy-tier", tpm_limit: 1000 });
      await post("/customer/new", { user_id: "dave", budget_id: "busy-tier" });
      const busy = await post("/budget/delete", { id: "busy-tier" });
      expect(busy.status).toBe(400);
      expect((await post("/customer/update", { user_id: "dave", budget_id: null })).status).toBe(200);
      expect(await post("/budget/delete", { id: "busy-tier" })).toMatchObject({ status: 200, json: { budget_id: "busy-tier" } });
      expect((await post("/budget/delete", { id: "busy-tier" })).status).toBe(404);
      expect((await post("/budget/new", { model_max_budget: { "fast-model": { budget_limit: 1 } } })).status).toBe(400);

      const { json: minted } = await post("/key/generate", {});
      const asKey = await fetch(`${gateway.baseUrl}/budget/new`, {
        method: "POST",
        headers: { authorization: `Bearer ${(minted as unknown as GeneratedKey).key}`, "content-type": "application/json" },
        body: JSON.stringify({ budget_id: "mine" }),
      });
      expect(asKey.status).toBe(401);
    });
  });
}
