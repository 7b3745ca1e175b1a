import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// Input that once got a 500 (and sometimes left a row behind that every later
// read failed on): values Postgres or a JavaScript date cannot hold, nesting
// deeper than JSON.stringify can write back, model names that are a plain
// object's own properties. Each is a 400 now, and the gateway goes on serving.
// So are numbers the split services' wire would have carried wrapped (it
// keeps a uint32's low 32 bits), which are tried split.

interface ErrorBody {
  error: { message: string; type: string; param: string | null };
}

describe("bad input to the management routes and its neighbours", () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(MODES[0]!, fakeOpenAIConfig, (setup) => ({ gateway } = setup));

  /** A request with the master key and a body written as given (for text JSON.stringify would not write). */
  const send = async (method: string, path: string, text?: string) => {
    const res = await fetch(`${gateway.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      ...(text !== undefined && { body: text }),
    });
    return { status: res.status, json: (await res.json()) as ErrorBody & Record<string, unknown> };
  };
  const refused = async (method: string, path: string, text: string | undefined, param: string) => {
    const { status, json } = await send(method, path, text);
    expect(status, `${path} ${text?.slice(0, 80)}`).toBe(400);
    expect(json.error, `${path} ${text?.slice(0, 80)}`).toMatchObject({ type: "invalid_request_error", param });
  };
  const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

  it("refuses a duration over 100 years, and keeps nothing of the request", async () => {
    await refused("POST", "/team/new", JSON.stringify({ team_alias: "too-far", budget_duration: "200000000d" }), "budget_duration");
    await refused("POST", "/key/generate", JSON.stringify({ key_alias: "too-far", duration: "99999999mo" }), "duration");
    const teams = await send("GET", "/team/list");
    expect(teams.status).toBe(200);
    expect(JSON.stringify(teams.json)).not.toContain("too-far");
    const keys = await send("GET", "/key/list?return_full_object=true");
    expect(keys.status).toBe(200);
    expect(JSON.stringify(keys.json)).not.toContain("too-far");
    // A hundred years is fine.
    expect((await send("POST", "/team/new", JSON.stringify({ team_alias: "century", budget_duration: "36500d" }))).status).toBe(200);
  });

  it("refuses a limit a Postgres integer cannot hold", async () => {
    await refused("POST", "/key/generate", JSON.stringify({ rpm_limit: 2_147_483_648 }), "rpm_limit");
    await refused("POST", "/key/generate", '{"tpm_limit": 1e30}', "tpm_limit");
    await refused("POST", "/team/new", JSON.stringify({ max_parallel_requests: 2 ** 40 }), "max_parallel_requests");
    await refused("POST", "/key/generate", JSON.stringify({ model_rpm_limit: { "fast-model": 2 ** 31 } }), "model_rpm_limit");
    expect((await send("POST", "/key/generate", JSON.stringify({ rpm_limit: 2_147_483_647 }))).status).toBe(200);
  });

  it("refuses a NUL character or an unpaired surrogate, in a body or a query", async () => {
    await refused("POST", "/team/new", '{"team_alias": "a\\u0000b"}', "team_alias");
    await refused("POST", "/key/generate", '{"metadata": {"note": "\\ud800"}}', "metadata");
    await refused("POST", "/user/new", '{"user_id": "u", "metadata": {"x\\u0000": 1}}', "metadata");
    await refused("POST", "/model/new", '{"model_name": "m", "litellm_params": {"model": "openai/x\\u0000"}}', "litellm_params");
    await refused("GET", "/team/info?team_id=%00", undefined, "team_id");
    await refused("GET", "/spend/logs?request_id=a%00", undefined, "request_id");
    // In a path: a credential's name, a model's id (Postgres refused the statement: a 500).
    await refused("PATCH", "/credentials/a%00b", "{}", "credential_name");
    await refused("DELETE", "/credentials/a%00b", undefined, "credential_name");
    await refused("PATCH", "/model/a%00b/update", "{}", "model_id");
    // A well-paired surrogate is a character like any other.
    expect((await send("POST", "/team/new", JSON.stringify({ team_alias: "rocket 🚀" }))).status).toBe(200);
    expect((await send("GET", "/team/list")).status).toBe(200);
  });

  it("refuses nesting deeper than anything needs, where it would have overflowed the stack", async () => {
    // Past 1000 levels the body is refused before it is parsed (its parse alone could hold the process).
    const deepest = await send("POST", "/key/generate", `{"metadata": ${nested(5000)}}`);
    expect(deepest.status).toBe(400);
    expect(deepest.json.error).toMatchObject({ type: "invalid_request_error", message: "request body is nested too deeply" });
    await refused("POST", "/key/generate", `{"metadata": ${nested(65)}}`, "metadata");
    expect((await send("POST", "/key/generate", `{"metadata": ${nested(30)}}`)).status).toBe(200);
    // Model routes that rewrite the body before passing it on.
    const deep = `[${"[".repeat(5000)}${"]".repeat(5000)}]`;
    const moderation = await send("POST", "/v1/moderations", `{"input": "hi", "x": ${deep}}`);
    expect(moderation.status).toBe(400);
    expect(moderation.json.error.message).toMatch(/nested too deeply/);
    const generate = await send("POST", "/v1beta/models/fast-model:generateContent", `{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "x": ${deep}}`);
    expect(generate.status).toBe(400);
    expect(generate.json.error).toMatchObject({ status: "INVALID_ARGUMENT" });
    // A function's schema nested deeper than any model is given (300 levels: a body the edge parses).
    const schema = `${'{"type": "OBJECT", "properties": {"a": '.repeat(150)}{"type": "STRING"}${"}}".repeat(150)}`;
    const tools = await send(
      "POST",
      "/v1beta/models/fast-model:generateContent",
      `{"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "tools": [{"functionDeclarations": [{"name": "f", "parameters": ${schema}}]}]}`,
    );
    expect(tools.status).toBe(400);
    expect(tools.json.error.message).toMatch(/nested more than 100 levels/);
  });

  it("waits as long as a timer can for a timeout longer than that, rather than giving up at once", async () => {
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "patient" }], timeout: 2_147_484 } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    expect(answer.choices[0]!.message.content).toBe("Echo: patient");
    const { status } = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", "x-litellm-timeout": "10000000" },
      body: JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(status).toBe(200);
  });

  it("refuses a date past year 9999 or before 1970 on /spend/logs, naming the parameter", async () => {
    await refused("GET", "/spend/logs?start_date=10000-01-01", undefined, "start_date");
    await refused("GET", "/spend/logs?end_date=%2B099999-01-01T00:00:00Z", undefined, "end_date");
    await refused("GET", "/spend/logs?start_date=-000001-01-01", undefined, "start_date");
    expect((await send("GET", "/spend/logs?start_date=9999-12-31")).status).toBe(200);
  });

  it("takes a model named like a plain object's own property for a model name like any other", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { model_max_budget: { toString: { budget_limit: 1 } }, model_rpm_limit: { constructor: 5 } });
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    for (const model of ["toString", "constructor", "__proto__"]) {
      await expect(client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }), model).rejects.toMatchObject({ status: 400 });
    }
    expect((await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "fine" }] })).choices[0]!.message.content).toBe("Echo: fine");
  });
});

describe("bad input to the management routes, split", () => {
  let gateway: ModeGateway;
  fakeBehindGatewayPerTest(MODES[1]!, fakeOpenAIConfig, (setup) => ({ gateway } = setup));

  it("refuses a team member's rate limit past 2147483647, keeping nothing of it, and tells clients one within it whole", async () => {
    expect((await admin(gateway.baseUrl, "POST", "/team/new", { team_id: "members" })).status).toBe(200);
    // An rpm_limit of 2^32 + 5 reached the x-ratelimit-* headers as 5; 1e300 left them out.
    for (const [path, body, param] of [
      ["/team/new", { team_id: "wrapped", members_with_roles: [{ role: "user", user_id: "ann", rpm_limit: 2 ** 32 + 5 }] }, "members_with_roles"],
      ["/team/member_add", { team_id: "members", member: [{ role: "user", user_id: "ann", tpm_limit: 1e300 }] }, "member"],
      ["/team/member_add", { team_id: "members", member: { role: "user", user_id: "ann", rpm_limit: 1.5 } }, "member"],
    ] as const) {
      const { status, json } = await admin<ErrorBody>(gateway.baseUrl, "POST", path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.error, `${path} ${JSON.stringify(body)}`).toMatchObject({ type: "invalid_request_error", param });
      expect(json.error.message).toMatch(/a member's (rpm|tpm)_limit must be a whole number up to 2147483647/);
    }
    expect((await admin(gateway.baseUrl, "GET", "/team/info?team_id=wrapped")).status).toBe(404);
    const team = await admin<{ team_info: { members_with_roles: { user_id?: string }[] } }>(gateway.baseUrl, "GET", "/team/info?team_id=members");
    expect(team.json.team_info.members_with_roles.map((m) => m.user_id)).not.toContain("ann");

    const most = 2_147_483_647;
    expect((await admin(gateway.baseUrl, "POST", "/team/member_add", { team_id: "members", member: { role: "user", user_id: "ann", rpm_limit: most, tpm_limit: most } })).status).toBe(200);
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { team_id: "members", user_id: "ann" });
    const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }).withResponse();
    expect(response.headers.get("x-ratelimit-limit-requests")).toBe(String(most));
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe(String(most - 1));
    expect(response.headers.get("x-ratelimit-limit-tokens")).toBe(String(most));
  });

  it("refuses a spend report grouped by a name a plain object holds (__proto__), naming group_by", async () => {
    // Split, such a name went on as the report's grouping and the call failed to encode: a 500.
    const days = "start_date=2024-01-01&end_date=2024-01-02";
    for (const name of ["__proto__", "constructor", "toString"]) {
      const { status, json } = await admin<ErrorBody>(gateway.baseUrl, "GET", `/global/spend/report?${days}&group_by=${name}`);
      expect(status, name).toBe(400);
      expect(json.error, name).toMatchObject({ type: "invalid_request_error", param: "group_by" });
    }
    expect((await admin(gateway.baseUrl, "GET", `/global/spend/report?${days}&group_by=model`)).status).toBe(200);
  });

  it("names the day a spend report was refused for", async () => {
    // The accounting service's refusals named no parameter.
    for (const [query, param] of [
      ["end_date=2024-01-02", "start_date"],
      ["start_date=2024-01-01", "end_date"],
      ["start_date=2024-02-30&end_date=2024-03-01", "start_date"],
      ["start_date=2024-01-01&end_date=tomorrow", "end_date"],
    ] as const) {
      const { status, json } = await admin<ErrorBody>(gateway.baseUrl, "GET", `/global/spend/report?${query}`);
      expect(status, query).toBe(400);
      expect(json.error, query).toMatchObject({ type: "invalid_request_error", param });
    }
  });

  it("names the field a missing key, a taken user or too wide an activity query was refused for", async () => {
    const refusedFor = async (method: "GET" | "POST", path: string, body: unknown, status: number, param: string) => {
      const res = await admin<ErrorBody>(gateway.baseUrl, method, path, body);
      expect(res.status, path.slice(0, 80)).toBe(status);
      expect(res.json.error.param, path.slice(0, 80)).toBe(param);
    };
    const missing = "sk-no-such-key";
    await refusedFor("GET", `/key/info?key=${missing}`, undefined, 404, "key");
    await refusedFor("POST", "/key/update", { key: missing, max_budget: 1 }, 404, "key");
    await refusedFor("POST", "/key/regenerate", { key: missing }, 404, "key");
    await refusedFor("POST", "/key/delete", { keys: [missing] }, 404, "keys");
    await refusedFor("POST", "/key/delete", { key_aliases: ["no-such-alias"] }, 404, "key_aliases");
    expect((await admin(gateway.baseUrl, "POST", "/user/new", { user_id: "taken", user_email: "taken@example.com" })).status).toBe(200);
    await refusedFor("POST", "/user/new", { user_id: "taken" }, 409, "user_id");
    await refusedFor("POST", "/user/new", { user_id: "other", user_email: "taken@example.com" }, 409, "user_email");
    await refusedFor("GET", "/team/daily/activity?start_date=2024-01-01&end_date=2026-01-01", undefined, 400, "start_date");
    await refusedFor("GET", "/global/spend/report?start_date=2024-01-02&end_date=2024-01-01", undefined, 400, "start_date");
    const many = (prefix: string) => Array.from({ length: 1001 }, (_, i) => `${prefix}${i}`).join(",");
    const days = "start_date=2024-01-01&end_date=2024-01-02";
    await refusedFor("GET", `/team/daily/activity?${days}&team_ids=${many("t")}`, undefined, 400, "team_ids");
    await refusedFor("GET", `/tag/daily/activity?${days}&tags=${many("tag")}`, undefined, 400, "tags");
    await refusedFor("GET", `/customer/daily/activity?${days}&end_user_ids=${many("u")}`, undefined, 400, "end_user_ids");
  });
});
