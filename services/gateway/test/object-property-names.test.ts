import { sameMinute } from "@gateway/testing";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type FakeBehindGateway } from "./support/modes.js";

// Names a plain object holds of its own (__proto__, toString) as model
// groups, aliases, teams, customers and members, with the official client,
// one process and split: each is a name like any other. Such a key was
// dropped from maps read into a plain object (a key's model_rpm_limit, in
// every mode), or from the split services' messages, which carried these
// maps as protobuf maps.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: __proto__
    litellm_params: { model: openai/gpt-4o, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: toString
    litellm_params: { model: openai/gpt-4.1, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

// A computed key: written as `__proto__: v`, an object literal sets its prototype instead.
const proto = <T>(value: T): Record<string, T> => ({ ["__proto__"]: value });

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`names a plain object holds, ${mode.name}`, () => {
    let setup: FakeBehindGateway;
    fakeBehindGatewayPerTest(mode, config, (started) => (setup = started));

    const generate = async (body: Record<string, unknown>) => {
      const { status, json } = await admin<GeneratedKey & Record<string, unknown>>(setup.gateway.baseUrl, "POST", "/key/generate", body);
      expect(status).toBe(200);
      return json;
    };
    const chat = (key: string, model: string, user?: string) =>
      new OpenAI({ baseURL: `${setup.gateway.baseUrl}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({
        model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 20,
        ...(user !== undefined && { user }),
      });
    const calledModel = () => (setup.provider.requests.at(-1)?.body as { model?: string } | undefined)?.model;

    it("holds a key's and a team's limits on a model group named __proto__, and one named toString", async () => {
      await sameMinute();
      const minted = await generate({ model_rpm_limit: proto(1), model_max_budget: { toString: { budget_limit: 0.000001, time_period: "1d" } } });
      expect(Object.entries(minted["model_rpm_limit"] as object)).toEqual([["__proto__", 1]]);
      await chat(minted.key, "__proto__");
      expect(calledModel()).toBe("gpt-4o");
      const refused = await chat(minted.key, "__proto__").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
      expect((refused as Error).message).toContain("rpm limit (1) reached for this key's model");
      await expect(chat(minted.key, "toString")).rejects.toThrow(/Budget has been exceeded! Model=toString/);
      await chat(minted.key, "fast-model");

      const info = await admin<{ info: Record<string, object> }>(setup.gateway.baseUrl, "GET", `/key/info?key=${minted.key}`);
      expect(Object.entries(info.json.info["model_rpm_limit"]!)).toEqual([["__proto__", 1]]);
      expect(Object.entries(info.json.info["model_max_budget"]!)).toEqual([["toString", { budget_limit: 0.000001, time_period: "1d" }]]);
      expect((await admin(setup.gateway.baseUrl, "POST", "/key/update", { key: minted.key, model_tpm_limit: proto(100000) })).status).toBe(200);
      const updated = await admin<{ info: Record<string, object> }>(setup.gateway.baseUrl, "GET", `/key/info?key=${minted.key}`);
      expect(Object.entries(updated.json.info["model_tpm_limit"]!)).toEqual([["__proto__", 100000]]);

      const team = await admin<Record<string, object> & { team_id: string }>(setup.gateway.baseUrl, "POST", "/team/new", { model_rpm_limit: proto(1), model_max_budget: proto({ budget_limit: 5 }) });
      expect(team.status).toBe(200);
      expect(Object.entries(team.json["model_rpm_limit"]!)).toEqual([["__proto__", 1]]);
      expect(Object.keys(team.json["model_max_budget"]!)).toEqual(["__proto__"]);
      const member = await generate({ team_id: team.json.team_id });
      await chat(member.key, "__proto__");
      await expect(chat(member.key, "__proto__")).rejects.toThrow(/rpm limit \(1\) reached for this team's model/);
    });

    it("answers a key's and a team's alias named __proto__ from the model group it names", async () => {
      const aliased = await generate({ aliases: proto("fast-model") });
      expect(Object.entries(aliased["aliases"] as object)).toEqual([["__proto__", "fast-model"]]);
      await chat(aliased.key, "__proto__");
      expect(calledModel()).toBe("gpt-4o-mini");
      const info = await admin<{ info: { aliases: object } }>(setup.gateway.baseUrl, "GET", `/key/info?key=${aliased.key}`);
      expect(Object.entries(info.json.info.aliases)).toEqual([["__proto__", "fast-model"]]);

      const team = await admin<{ team_id: string }>(setup.gateway.baseUrl, "POST", "/team/new", { model_aliases: proto("fast-model") });
      expect(team.status).toBe(200);
      const member = await generate({ team_id: team.json.team_id });
      await chat(member.key, "__proto__");
      expect(calledModel()).toBe("gpt-4o-mini");
      const shown = await admin<{ team_info: { litellm_model_table: { model_aliases: object } | null } }>(setup.gateway.baseUrl, "GET", `/team/info?team_id=${team.json.team_id}`);
      expect(Object.entries(shown.json.team_info.litellm_model_table?.model_aliases ?? {})).toEqual([["__proto__", "fast-model"]]);
    });

    it("shows the spend of a team, a customer and a team member named __proto__ as booked, and the team's day", async () => {
      // One process, their spend was looked up in a plain object and shown as {} (Object.prototype); split, it was lost on the wire and shown as 0.
      expect((await admin(setup.gateway.baseUrl, "POST", "/team/new", { team_id: "__proto__", members_with_roles: [{ role: "user", user_id: "__proto__", max_budget_in_team: 10 }] })).status).toBe(200);
      expect((await admin(setup.gateway.baseUrl, "POST", "/customer/new", { user_id: "__proto__" })).status).toBe(200);
      const customer = await admin<{ spend: unknown }>(setup.gateway.baseUrl, "GET", "/customer/info?end_user_id=__proto__");
      expect(customer.json.spend).toBe(0);
      const key = await generate({ team_id: "__proto__", user_id: "__proto__" });
      const { _request_id: requestId } = await chat(key.key, "fast-model", "__proto__");
      const booked = (await setup.gateway.spendLog(requestId!))["spend"];
      expect(booked).toBeGreaterThan(0);
      const team = await admin<{ team_info: { spend: unknown }; team_memberships: { user_id: string; spend: unknown }[] }>(setup.gateway.baseUrl, "GET", "/team/info?team_id=__proto__");
      expect(team.json.team_info.spend).toBe(booked);
      expect(team.json.team_memberships.find((m) => m.user_id === "__proto__")?.spend).toBe(booked);
      const listed = await admin<{ team_id: string; spend: unknown }[]>(setup.gateway.baseUrl, "GET", "/team/list");
      expect(listed.json.find((t) => t.team_id === "__proto__")?.spend).toBe(booked);
      expect((await admin<{ spend: unknown }>(setup.gateway.baseUrl, "GET", "/customer/info?end_user_id=__proto__")).json.spend).toBe(booked);
      const days = await admin<{ daily_spend: Record<string, unknown>[] }>(setup.gateway.baseUrl, "GET", "/global/spend/teams");
      expect(days.json.daily_spend.map((day) => Object.hasOwn(day, "__proto__") && day["__proto__"])).toContain(booked);
    });
  });
}
