import { sameMinute } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// A key's limits per model group (LiteLLM's model_rpm_limit, model_tpm_limit
// and model_max_budget on /key/generate and /key/update), and a team's
// (the same on /team/new and /team/update, over all its keys), with the official client, one process and split: requests
// to that group are held to them, also when sent together; requests to
// other groups are not.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`limits per model group, ${mode.name}`, () => {
    let gateway: ModeGateway;
    fakeBehindGatewayPerTest(mode, config, (setup) => ({ gateway } = setup));

    const generate = async (body: Record<string, unknown>) => {
      const { status, json } = await admin<GeneratedKey & Record<string, unknown>>(gateway.baseUrl, "POST", "/key/generate", body);
      expect(status).toBe(200);
      return json;
    };
    const chat = (key: string, model: string) =>
      new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: "user", content: "per model" }], max_tokens: 20 });

    it("refuses a model group's requests past its rpm with a 429, and serves the other groups", async () => {
      await sameMinute();
      const minted = await generate({ model_rpm_limit: { "fast-model": 2 } });
      expect(minted["model_rpm_limit"]).toEqual({ "fast-model": 2 });
      for (let i = 0; i < 2; i++) await chat(minted.key, "fast-model");
      const refused = await chat(minted.key, "fast-model").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect((refused as InstanceType<typeof OpenAI.RateLimitError>).message).toContain("rpm limit (2) reached for this key's model");
      await chat(minted.key, "smart-model");
    });

    it("reads the limits from metadata too, where LiteLLM's earlier versions took them", async () => {
      await sameMinute();
      const minted = await generate({ metadata: { model_rpm_limit: { "fast-model": 1 }, model_tpm_limit: { "smart-model": 100000 } } });
      expect(minted).toMatchObject({ model_rpm_limit: { "fast-model": 1 }, model_tpm_limit: { "smart-model": 100000 } });
      await chat(minted.key, "fast-model");
      await expect(chat(minted.key, "fast-model")).rejects.toBeInstanceOf(OpenAI.RateLimitError);
      const bad = await admin<{ error: { param: string } }>(gateway.baseUrl, "POST", "/key/generate", { metadata: { model_rpm_limit: { "fast-model": "many" } } });
      expect(bad.status).toBe(400);
      expect(bad.json.error.param).toBe("metadata.model_rpm_limit");
    });

    it("admits only as many requests sent together as the model group's rpm allows", async () => {
      await sameMinute();
      const minted = await generate({ model_rpm_limit: { "fast-model": 3 }, model_tpm_limit: { "smart-model": 100000 } });
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => chat(minted.key, "fast-model")));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
      expect(results.filter((r) => r.status === "rejected").every((r) => (r as PromiseRejectedResult).reason instanceof OpenAI.RateLimitError)).toBe(true);
    });

    it("refuses a request that a model group's budget cannot cover, and clears it on /key/update with null", async () => {
      const minted = await generate({ model_max_budget: { "smart-model": { budget_limit: 0.000001, time_period: "1d" } } });
      const refused = await chat(minted.key, "smart-model").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).message).toMatch(/Budget has been exceeded! Model=smart-model Current cost: 0, Max budget: 0\.000001/);
      await chat(minted.key, "fast-model");

      const info = await admin<{ info: Record<string, unknown> }>(gateway.baseUrl, "GET", `/key/info?key=${minted.key}`);
      expect(info.json.info).toMatchObject({ model_max_budget: { "smart-model": { budget_limit: 0.000001, time_period: "1d" } }, model_rpm_limit: {}, model_tpm_limit: {} });
      expect((await admin(gateway.baseUrl, "POST", "/key/update", { key: minted.key, model_max_budget: null })).status).toBe(200);
      await chat(minted.key, "smart-model");
    });

    it("holds all of a team's keys together to the team's model_rpm_limit, also when sent together, and takes it away with null", async () => {
      await sameMinute();
      const team = await admin<Record<string, unknown> & { team_id: string }>(gateway.baseUrl, "POST", "/team/new", { model_rpm_limit: { "fast-model": 3 } });
      expect(team.status).toBe(200);
      expect(team.json).toMatchObject({ model_rpm_limit: { "fast-model": 3 }, model_tpm_limit: {} });
      const [a, b] = [await generate({ team_id: team.json.team_id }), await generate({ team_id: team.json.team_id })];
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => chat((i % 2 === 0 ? a : b).key, "fast-model")));
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
      // Every one not served refused by the team's model limit: another failure must not pass for one.
      for (const refused of results.filter((r) => r.status === "rejected")) {
        expect(refused.reason).toBeInstanceOf(OpenAI.RateLimitError);
        expect((refused.reason as Error).message).toContain("rpm limit (3) reached for this team's model");
      }
      await chat(a.key, "smart-model");

      // The older form in metadata is read too; null takes the limits away.
      const updated = await admin<{ data: Record<string, unknown> }>(gateway.baseUrl, "POST", "/team/update", { team_id: team.json.team_id, metadata: { model_tpm_limit: { "smart-model": 5000 } } });
      expect(updated.json.data).toMatchObject({ model_rpm_limit: { "fast-model": 3 }, model_tpm_limit: { "smart-model": 5000 } });
      expect((await admin(gateway.baseUrl, "POST", "/team/update", { team_id: team.json.team_id, model_rpm_limit: null })).status).toBe(200);
      await chat(b.key, "fast-model");
    });

    it("holds a team's keys to the team's model_max_budget, and takes it away with null", async () => {
      const budget = { "smart-model": { budget_limit: 0.000001, time_period: "1d" } };
      const team = await admin<Record<string, unknown> & { team_id: string }>(gateway.baseUrl, "POST", "/team/new", { model_max_budget: budget });
      expect(team.status).toBe(200);
      expect(team.json).toMatchObject({ model_max_budget: budget });
      const member = await generate({ team_id: team.json.team_id });
      const refused = await chat(member.key, "smart-model").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as Error).message).toMatch(/Budget has been exceeded! Model=smart-model Current cost: 0, Max budget: 0\.000001/);
      await chat(member.key, "fast-model");
      const info = await admin<{ team_info: Record<string, unknown> }>(gateway.baseUrl, "GET", `/team/info?team_id=${team.json.team_id}`);
      expect(info.json.team_info).toMatchObject({ model_max_budget: budget });
      expect((await admin(gateway.baseUrl, "POST", "/team/update", { team_id: team.json.team_id, model_max_budget: null })).status).toBe(200);
      await chat(member.key, "smart-model");
    });

    it("answers malformed per-model limits with a 400 naming the field", async () => {
      for (const [field, value] of [
        ["model_rpm_limit", { "fast-model": -1 }],
        ["model_tpm_limit", ["fast-model"]],
        ["model_max_budget", { "fast-model": { budget_limit: "5" } }],
        ["model_max_budget", { "fast-model": { budget_limit: 5, time_period: "sometimes" } }],
      ] as const) {
        const { status, json } = await admin<{ error: { param: string } }>(gateway.baseUrl, "POST", "/key/generate", { [field]: value });
        expect(status).toBe(400);
        expect(json.error.param).toMatch(new RegExp(`^${field}`));
      }
      for (const [field, value] of [
        ["model_rpm_limit", { "fast-model": 1.5 }],
        ["model_max_budget", { "fast-model": { budget_limit: 5, time_period: "sometimes" } }],
      ] as const) {
        const team = await admin<{ error: { param: string } }>(gateway.baseUrl, "POST", "/team/new", { [field]: value });
        expect(team.status).toBe(400);
        expect(team.json.error.param).toMatch(new RegExp(`^${field}`));
      }
    });
  });
}
