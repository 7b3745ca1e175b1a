import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually } from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";
import { deployment, routingYaml, startReplicaPair } from "./support/routing.js";

// Models added and removed at runtime through LiteLLM's /model/* routes, on
// two gateways sharing Postgres and NATS (two router replicas); /health and
// /v1/models.

let configured: FakeProvider;
let added: FakeProvider;
let pair: Awaited<ReturnType<typeof startReplicaPair>>;
let one: string;
let two: string;

beforeAll(async () => {
  [configured, added] = [await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } }), await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } })];
  pair = await startReplicaPair(
    routingYaml(
      deployment("fast-model", "config-1", configured),
      `router_settings:
  model_group_alias: { gpt-4: fast-model, internal-name: { model: fast-model, hidden: true } }
`,
    ),
  );
  [one, two] = pair.urls;
});

afterAll(async () => {
  await pair?.close();
  await configured?.close();
  await added?.close();
});

const client = (base: string, apiKey = MASTER_KEY) => new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const modelIds = async (base: string, apiKey = MASTER_KEY) => (await client(base, apiKey).models.list()).data.map((m) => m.id).sort();

describe("runtime models", () => {
  let modelId: string;

  it("adds a model on one replica that the other lists and serves, its key read from the environment", async () => {
    const { status, json } = await admin<{ model_id: string; litellm_params: Record<string, unknown> }>(one, "POST", "/model/new", {
      model_name: "added-model",
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${added.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY" },
      model_info: { id: "runtime-1" },
    });
    expect(status).toBe(200);
    expect(json.model_id).toBe("runtime-1");
    expect(json.litellm_params).not.toHaveProperty("api_key");
    modelId = json.model_id;
    await eventually("the other replica to list it", async () => ((await modelIds(two)).includes("added-model") ? true : undefined));
    const answer = await client(two).chat.completions.create({ model: "added-model", messages: [{ role: "user", content: "new" }] }).withResponse();
    expect(answer.data.choices[0]?.message.content).toBe("Echo: new");
    expect(answer.response.headers.get("x-litellm-model-id")).toBe("runtime-1");
    expect(added.requests.at(-1)?.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
  });

  it("keeps a literal provider key and extra headers sealed in Postgres, and serves with them on every replica", async () => {
    const { status } = await admin(one, "POST", "/model/new", {
      model_name: "sealed-model",
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${added.url}/v1`, api_key: PROVIDER_KEY, extra_headers: { "x-proxy-token": "proxy-secret-0123456789" } },
      model_info: { id: "sealed-1" },
    });
    expect(status).toBe(200);
    const sql = postgres(pair.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ params: Record<string, string> }[]>`SELECT litellm_params AS params FROM router.runtime_models WHERE id = 'sealed-1'`;
      expect(JSON.stringify(row?.params)).not.toMatch(new RegExp(`${PROVIDER_KEY}|proxy-secret`));
      expect(row?.params).toMatchObject({ model: "openai/gpt-4o-mini", api_key: expect.stringMatching(/^sealed:v1:/), extra_headers: expect.stringMatching(/^sealed:v1:/) });
    } finally {
      await sql.end();
    }
    await eventually("the other replica to list it", async () => ((await modelIds(two)).includes("sealed-model") ? true : undefined));
    await client(two).chat.completions.create({ model: "sealed-model", messages: [{ role: "user", content: "sealed" }] });
    expect(added.requests.at(-1)?.headers).toMatchObject({ authorization: `Bearer ${PROVIDER_KEY}`, "x-proxy-token": "proxy-secret-0123456789" });
    expect((await admin(one, "POST", "/model/delete", { id: "sealed-1" })).status).toBe(200);
    await eventually("the other replica to drop it", async () => (!(await modelIds(two)).includes("sealed-model") ? true : undefined));
  });

  it("keeps an api_base holding credentials sealed in Postgres, and shows it without them", async () => {
    const apiBase = "https://relay:pa55-0123456789@llm.internal/v1";
    expect((await admin(one, "POST", "/model/new", { model_name: "relayed", litellm_params: { model: "openai/gpt-4o-mini", api_base: apiBase }, model_info: { id: "relayed-1" } })).status).toBe(200);
    const sql = postgres(pair.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ params: Record<string, string> }[]>`SELECT litellm_params AS params FROM router.runtime_models WHERE id = 'relayed-1'`;
      expect(row?.params["api_base"]).toMatch(/^sealed:v1:/);
    } finally {
      await sql.end();
    }
    const info = await eventually("the other replica to list it", async () => {
      const res = await fetch(`${two}/model/info`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      const text = await res.text();
      return text.includes("relayed-1") ? text : undefined;
    });
    expect(info).not.toContain("pa55-0123456789");
    expect(info).toContain('"api_base":"https://llm.internal/v1"');
    expect((await admin(one, "POST", "/model/delete", { id: "relayed-1" })).status).toBe(200);
    await eventually("the other replica to drop it", async () => (!(await modelIds(two)).includes("relayed") ? true : undefined));
  });

  it("shows every deployment in /model/info without a secret, telling runtime ones apart", async () => {
    const res = await fetch(`${two}/model/info`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(PROVIDER_KEY);
    const { data } = JSON.parse(text) as { data: { model_name: string; litellm_params: Record<string, unknown>; model_info: Record<string, unknown> }[] };
    expect(data.map((d) => [d.model_name, d.model_info["id"], d.model_info["db_model"]])).toEqual([
      ["fast-model", "config-1", false],
      ["added-model", "runtime-1", true],
    ]);
    expect(data[0]?.litellm_params).toEqual({ model: "openai/gpt-4o-mini", api_base: `${configured.url}/v1` });
    const single = await admin<{ data: unknown[] }>(two, "GET", "/model/info?litellm_model_id=runtime-1");
    expect(single.json.data).toHaveLength(1);
  });

  it("refuses a duplicate id, an invalid model and a config.yaml model's deletion", async () => {
    const duplicate = await admin(one, "POST", "/model/new", { model_name: "x", litellm_params: { model: "openai/gpt-4o-mini", api_base: "http://127.0.0.1:9/v1" }, model_info: { id: "config-1" } });
    expect(duplicate.status).toBe(400);
    const unsupported = await admin(one, "POST", "/model/new", { model_name: "x", litellm_params: { model: "nowhere/model" } });
    expect(unsupported.status).toBe(400);
    expect(JSON.stringify(unsupported.json)).toContain("not supported");
    const fromFile = await admin(one, "POST", "/model/delete", { id: "config-1" });
    expect(fromFile.status).toBe(400);
    expect(JSON.stringify(fromFile.json)).toContain("config.yaml");
    expect((await admin(one, "POST", "/model/delete", { id: "no-such-model" })).status).toBe(404);
  });

  it("keeps /model/* changes and /health to the master key, and shows a key only its models' deployments", async () => {
    const key = await admin<GeneratedKey>(one, "POST", "/key/generate", {});
    for (const [method, path] of [["POST", "/model/new"], ["POST", "/model/delete"], ["GET", "/health"]] as const) {
      const res = await fetch(`${one}${path}`, { method, headers: { authorization: `Bearer ${key.json.key}` }, ...(method === "POST" && { body: "{}" }) });
      expect(res.status).toBe(401);
    }
    const info = async (apiKey: string) =>
      ((await (await fetch(`${one}/model/info`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { data: { model_name: string }[] }).data.map((d) => d.model_name);
    const all = await info(MASTER_KEY);
    expect(new Set(all).size).toBeGreaterThan(1);
    expect(await info(key.json.key)).toEqual(all);
    const narrow = await admin<GeneratedKey>(one, "POST", "/key/generate", { models: ["fast-model"] });
    const seen = await info(narrow.json.key);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((name) => name === "fast-model")).toBe(true);
  });

  it("deletes a runtime model on every replica", async () => {
    const { status } = await admin(two, "POST", "/model/delete", { id: modelId });
    expect(status).toBe(200);
    await eventually("the first replica to drop it", async () => (!(await modelIds(one)).includes("added-model") ? true : undefined));
    await expect(client(one).chat.completions.create({ model: "added-model", messages: [{ role: "user", content: "gone?" }] })).rejects.toMatchObject({ status: 400 });
  });
});

describe("updating runtime models", () => {
  const ROTATED_KEY = "sk-rotated-provider-key-0123456789";
  let rotated: FakeProvider;
  type Info = { data: { model_name: string; litellm_params: Record<string, unknown>; model_info: Record<string, unknown> }[] };
  const infoOf = async (base: string, id: string) => (await admin<Info>(base, "GET", `/model/info?litellm_model_id=${id}`)).json.data[0];

  beforeAll(async () => {
    rotated = await startFakeProvider({ behavior: { requireApiKey: ROTATED_KEY } });
    const { status } = await admin(one, "POST", "/model/new", {
      model_name: "updated-model",
      litellm_params: { model: "openai/gpt-4o-mini", api_base: `${added.url}/v1`, api_key: PROVIDER_KEY, timeout: 30 },
      model_info: { id: "update-1", team: "a" },
    });
    expect(status).toBe(200);
    await eventually("the other replica to list it", async () => ((await modelIds(two)).includes("updated-model") ? true : undefined));
  });

  afterAll(async () => {
    await admin(one, "POST", "/model/delete", { id: "update-1" });
    await rotated?.close();
  });

  it("moves a model to another server and key with /model/update; every replica serves it there, the rest of it kept", async () => {
    const { status, json } = await admin<{ model_id: string; litellm_params: Record<string, unknown> }>(one, "POST", "/model/update", {
      model_info: { id: "update-1" },
      litellm_params: { api_base: `${rotated.url}/v1`, api_key: ROTATED_KEY, timeout: null },
    });
    expect(status).toBe(200);
    expect(json.model_id).toBe("update-1");
    expect(json.litellm_params).toEqual({ model: "openai/gpt-4o-mini", api_base: `${rotated.url}/v1`, timeout: 30 });
    const sql = postgres(pair.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ params: Record<string, string> }[]>`SELECT litellm_params AS params FROM router.runtime_models WHERE id = 'update-1'`;
      expect(row?.params["api_key"]).toMatch(/^sealed:v1:/);
      expect(JSON.stringify(row?.params)).not.toContain(ROTATED_KEY);
    } finally {
      await sql.end();
    }
    await eventually("the other replica to use the new server", async () => ((await infoOf(two, "update-1"))?.litellm_params["api_base"] === `${rotated.url}/v1` ? true : undefined));
    const before = rotated.requests.length;
    const answer = await client(two).chat.completions.create({ model: "updated-model", messages: [{ role: "user", content: "moved" }] });
    expect(answer.choices[0]?.message.content).toBe("Echo: moved");
    expect(rotated.requests.length).toBe(before + 1);
    expect(rotated.requests.at(-1)?.headers["authorization"]).toBe(`Bearer ${ROTATED_KEY}`);
  });

  it("renames a model with PATCH /model/{id}/update", async () => {
    const { status, json } = await admin<{ model_name: string; model_info: Record<string, unknown> }>(two, "PATCH", "/model/update-1/update", { model_name: "renamed-model" });
    expect(status).toBe(200);
    expect(json.model_name).toBe("renamed-model");
    expect(json.model_info).toMatchObject({ id: "update-1", team: "a" });
    await eventually("the first replica to follow", async () => {
      const ids = await modelIds(one);
      return ids.includes("renamed-model") && !ids.includes("updated-model") ? true : undefined;
    });
    const answer = await client(one).chat.completions.create({ model: "renamed-model", messages: [{ role: "user", content: "renamed" }] }).withResponse();
    expect(answer.response.headers.get("x-litellm-model-id")).toBe("update-1");
  });

  it("applies every one of many updates made at once on both replicas", async () => {
    const updates = Array.from({ length: 12 }, (_, i) =>
      admin(i % 2 === 0 ? one : two, "POST", "/model/update", { model_info: { id: "update-1", [`label_${i}`]: i } }),
    );
    expect((await Promise.all(updates)).map((u) => u.status)).toEqual(Array(12).fill(200));
    // Each replica hears the other's last change a moment after it answered.
    const info = await eventually("every label on both replicas", async () => {
      const both = [await infoOf(one, "update-1"), await infoOf(two, "update-1")];
      return both.every((i) => Array.from({ length: 12 }, (_, n) => i?.model_info[`label_${n}`] === n).every(Boolean)) ? both[0] : undefined;
    });
    expect(info?.model_info["team"]).toBe("a");
  });

  it("refuses what it cannot apply, and leaves the model as it was", async () => {
    const cases = [
      [{ model_info: { id: "update-1" }, litellm_params: { model: "nowhere/model" } }, 400, "not supported"],
      [{ model_info: { id: "config-1" }, litellm_params: { api_base: "http://127.0.0.1:9/v1" } }, 400, "config.yaml"],
      [{ model_info: { id: "no-such-model" }, litellm_params: { api_base: "http://127.0.0.1:9/v1" } }, 404, "no model with id"],
      [{ litellm_params: { api_base: "http://127.0.0.1:9/v1" } }, 400, "model_info.id is required"],
      [{ model_info: { id: "update-1" }, litellm_params: "api_base" }, 400, "litellm_params must be an object"],
      [{ model_info: { id: "update-1" }, model_name: "" }, 400, "model_name"],
    ] as const;
    for (const [body, status, message] of cases) {
      const res = await admin<{ error: { message: string } }>(one, "POST", "/model/update", body);
      expect(res.status, message).toBe(status);
      expect(res.json.error.message).toContain(message);
    }
    const changeId = await admin<{ error: { message: string } }>(one, "PATCH", "/model/update-1/update", { model_info: { id: "update-2" } });
    expect(changeId.status).toBe(400);
    const key = await admin<GeneratedKey>(one, "POST", "/key/generate", {});
    const notMaster = await fetch(`${one}/model/update`, { method: "POST", headers: { authorization: `Bearer ${key.json.key}` }, body: JSON.stringify({ model_info: { id: "update-1" }, model_name: "taken" }) });
    expect(notMaster.status).toBe(401);
    const answer = await client(two).chat.completions.create({ model: "renamed-model", messages: [{ role: "user", content: "still here" }] });
    expect(answer.choices[0]?.message.content).toBe("Echo: still here");
    expect((await infoOf(one, "update-1"))?.litellm_params).toEqual({ model: "openai/gpt-4o-mini", api_base: `${rotated.url}/v1`, timeout: 30 });
  });
});

describe("/v1/models", () => {
  it("lists the groups and visible aliases a key may use", async () => {
    expect(await modelIds(one)).toEqual(["fast-model", "gpt-4"]);
    const limited = await admin<GeneratedKey>(one, "POST", "/key/generate", { models: ["gpt-4"] });
    expect(await modelIds(one, limited.json.key)).toEqual(["gpt-4"]);
    const viaAlias = await client(one).chat.completions.create({ model: "internal-name", messages: [{ role: "user", content: "alias" }] }).withResponse();
    expect(viaAlias.response.headers.get("x-litellm-model-group")).toBe("fast-model");
  });
});

describe("/health", () => {
  it("probes every deployment and reports which answered, without secrets", async () => {
    await admin(one, "POST", "/model/new", { model_name: "dead-model", litellm_params: { model: "openai/gpt-4o-mini", api_base: "http://127.0.0.1:9/v1", api_key: PROVIDER_KEY }, model_info: { id: "dead-1" } });
    await eventually("the other replica to load it", async () => ((await modelIds(two)).includes("dead-model") ? true : undefined));
    const res = await fetch(`${two}/health`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(PROVIDER_KEY);
    const health = JSON.parse(text) as { healthy_endpoints: { model_id: string }[]; unhealthy_endpoints: { model_id: string; error: string }[]; healthy_count: number; unhealthy_count: number };
    expect(health.healthy_endpoints.map((e) => e.model_id)).toEqual(["config-1"]);
    expect(health.unhealthy_endpoints.map((e) => e.model_id)).toEqual(["dead-1"]);
    expect(health.unhealthy_endpoints[0]?.error).toMatch(/unreachable/);
    expect([health.healthy_count, health.unhealthy_count]).toEqual([1, 1]);
    const onlyOne = await admin<{ healthy_count: number; unhealthy_count: number }>(two, "GET", "/health?model=fast-model");
    expect([onlyOne.json.healthy_count, onlyOne.json.unhealthy_count]).toEqual([1, 0]);
    await admin(one, "POST", "/model/delete", { id: "dead-1" });
  });
});

describe("runtime models stored before their secrets were sealed", () => {
  it("are sealed when a router starts, and served as before", async () => {
    const database = await createTestDatabase();
    const bus = await createTestBus();
    await bus.bus.close();
    const plumbing = { databaseUrl: database.url, nats: bus };
    const configPath = writeConfig(routingYaml(deployment("fast-model", "config-1", configured)));
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    let gateway: RunningGateway | undefined;
    try {
      // The first start makes the schema; then a row as an earlier version stored it.
      await (await startGateway(gatewayOptions("all", configPath, plumbing))).close();
      const params = { model: "openai/gpt-4o-mini", api_base: `${added.url}/v1`, api_key: PROVIDER_KEY };
      await sql`INSERT INTO router.runtime_models (id, model_name, litellm_params) VALUES ('plain-1', 'plain-model', ${sql.json(params)})`;
      gateway = await startGateway(gatewayOptions("all", configPath, plumbing));
      const [row] = await sql<{ params: Record<string, string> }[]>`SELECT litellm_params AS params FROM router.runtime_models WHERE id = 'plain-1'`;
      expect(row?.params["api_key"]).toMatch(/^sealed:v1:/);
      const answer = await client(`http://127.0.0.1:${gateway.port}`).chat.completions.create({ model: "plain-model", messages: [{ role: "user", content: "old row" }] });
      expect(answer.choices[0]?.message.content).toBe("Echo: old row");
      expect(added.requests.at(-1)?.headers["authorization"]).toBe(`Bearer ${PROVIDER_KEY}`);
    } finally {
      await gateway?.close();
      await sql.end();
      await bus.close();
      await database.drop();
    }
  });
});
