import { writeFileSync } from "node:fs";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually } from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";
import { deployment, routingYaml, startReplicaPair, startRoutingGateway } from "./support/routing.js";

// LiteLLM's credential management routes (/credentials…): credentials kept in
// Postgres, their secret values sealed and never shown, that models take by
// litellm_credential_name; on two router replicas sharing Postgres and NATS,
// and on a gateway split into services.

const FIRST_KEY = "sk-stored-first-0123456789";
const SECOND_KEY = "sk-stored-second-9876543210";
const FILE_KEY = "sk-file-credential-55555";

type Credential = { credential_name: string; credential_values: Record<string, unknown>; credential_info: Record<string, unknown> };
type Failure = { error: { message: string; type: string } };

const client = (base: string) => new OpenAI({ baseURL: `${base}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
const ask = (base: string, model: string) => client(base).chat.completions.create({ model, messages: [{ role: "user", content: "hello" }] });

let provider: FakeProvider;
let pair: Awaited<ReturnType<typeof startReplicaPair>>;
let one: string;
let two: string;

beforeAll(async () => {
  provider = await startFakeProvider();
  pair = await startReplicaPair(
    routingYaml(
      deployment("file-model", "file-1", provider),
      `credential_list:
  - credential_name: file-cred
    credential_values: { api_key: ${FILE_KEY}, api_base: "${provider.url}/v1" }
    credential_info: { description: from the file }
`,
    ),
  );
  [one, two] = pair.urls;
});

afterAll(async () => {
  await pair?.close();
  await provider?.close();
});

/** The Authorization header of the provider's latest request. */
const lastAuthorization = () => provider.requests.at(-1)?.headers["authorization"];

describe("stored credentials on two router replicas", () => {
  it("stores a credential with its secret values sealed, which a runtime model names and every replica calls with", async () => {
    const created = await admin(one, "POST", "/credentials", {
      credential_name: "stored-cred",
      credential_values: { api_key: FIRST_KEY, api_base: `${provider.url}/v1` },
      credential_info: { description: "the fake provider" },
    });
    expect(created).toEqual({ status: 200, json: { success: true, message: "Credential created successfully" } });
    const sql = postgres(pair.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ values: Record<string, string> }[]>`SELECT credential_values AS values FROM router.credentials WHERE name = 'stored-cred'`;
      expect(JSON.stringify(row?.values)).not.toContain(FIRST_KEY);
      expect(row?.values).toEqual({ api_key: expect.stringMatching(/^sealed:v1:/), api_base: `${provider.url}/v1` });
    } finally {
      await sql.end();
    }
    const added = await admin(one, "POST", "/model/new", {
      model_name: "stored-model",
      litellm_params: { model: "openai/gpt-4o-mini", litellm_credential_name: "stored-cred" },
      model_info: { id: "stored-1" },
    });
    expect(added.status).toBe(200);
    expect(JSON.stringify(added.json)).not.toContain(FIRST_KEY);
    const answer = await eventually("the other replica to serve it", async () => ask(two, "stored-model").catch(() => undefined));
    expect(answer.choices[0]?.message.content).toBe("Echo: hello");
    expect(lastAuthorization()).toBe(`Bearer ${FIRST_KEY}`);
  });

  it("lists config.yaml's and the stored credentials, and shows one by name or by model, secret values masked as LiteLLM masks them", async () => {
    const list = await admin<{ success: boolean; credentials: Credential[] }>(two, "GET", "/credentials");
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).not.toMatch(new RegExp(`${FIRST_KEY}|${FILE_KEY}`));
    expect(list.json).toEqual({
      success: true,
      credentials: [
        { credential_name: "file-cred", credential_values: { api_key: "sk****55", api_base: `${provider.url}/v1` }, credential_info: { description: "from the file" } },
        { credential_name: "stored-cred", credential_values: { api_key: "sk****89", api_base: `${provider.url}/v1` }, credential_info: { description: "the fake provider" } },
      ],
    });
    const byName = await admin<Credential>(two, "GET", "/credentials/by_name/stored-cred");
    expect(byName).toEqual({ status: 200, json: list.json.credentials[1] });
    const byModel = await admin<Credential>(two, "GET", "/credentials/by_model/stored-1");
    expect(byModel).toEqual({
      status: 200,
      json: { credential_name: "stored-model-credential-stored-1", credential_values: { api_key: "sk****89", api_base: `${provider.url}/v1` }, credential_info: {} },
    });
  });

  it("copies a deployment's credential values when given its model_id", async () => {
    expect((await admin(one, "POST", "/credentials", { credential_name: "copied", model_id: "stored-1", credential_info: {} })).status).toBe(200);
    const copied = await eventually("the other replica to load it", async () => {
      const res = await admin<Credential>(two, "GET", "/credentials/by_name/copied");
      return res.status === 200 ? res.json : undefined;
    });
    expect(copied.credential_values).toEqual({ api_key: "sk****89", api_base: `${provider.url}/v1` });
    expect((await admin(one, "DELETE", "/credentials/copied")).status).toBe(200);
  });

  it("changes a credential's key with PATCH: the next call on every replica uses the new one, and what was not given stays", async () => {
    const patched = await admin(one, "PATCH", "/credentials/stored-cred", { credential_values: { api_key: SECOND_KEY }, credential_info: { owner: "ops" } });
    expect(patched).toEqual({ status: 200, json: { success: true, message: "Credential updated successfully" } });
    await ask(one, "stored-model");
    expect(lastAuthorization()).toBe(`Bearer ${SECOND_KEY}`);
    await eventually("the other replica to call with the new key", async () => {
      await ask(two, "stored-model");
      return lastAuthorization() === `Bearer ${SECOND_KEY}` ? true : undefined;
    });
    const shown = await admin<Credential>(two, "GET", "/credentials/by_name/stored-cred");
    expect(shown.json).toEqual({
      credential_name: "stored-cred",
      credential_values: { api_key: "sk****10", api_base: `${provider.url}/v1` },
      credential_info: { description: "the fake provider", owner: "ops" },
    });
  });

  it("refuses to delete a credential a model names, deletes it once none does, and then knows it no more", async () => {
    const inUse = await admin<Failure>(one, "DELETE", "/credentials/stored-cred");
    expect(inUse.status).toBe(400);
    expect(inUse.json.error.message).toContain("cannot be deleted while a model names it");
    expect((await ask(two, "stored-model")).choices[0]?.message.content).toBe("Echo: hello");
    expect((await admin(one, "POST", "/model/delete", { id: "stored-1" })).status).toBe(200);
    expect(await admin(one, "DELETE", "/credentials/stored-cred")).toEqual({ status: 200, json: { success: true, message: "Credential deleted successfully" } });
    await eventually("the other replica to drop it", async () => ((await admin(two, "GET", "/credentials/by_name/stored-cred")).status === 404 ? true : undefined));
    expect((await admin<{ credentials: Credential[] }>(two, "GET", "/credentials")).json.credentials.map((c) => c.credential_name)).toEqual(["file-cred"]);
    expect((await admin(one, "DELETE", "/credentials/stored-cred")).status).toBe(404);
    const orphan = await admin<Failure>(one, "POST", "/model/new", { model_name: "orphan", litellm_params: { model: "openai/gpt-4o-mini", litellm_credential_name: "stored-cred" } });
    expect(orphan.status).toBe(400);
    expect(orphan.json.error.message).toContain('no credential named "stored-cred"');
  });

  it("answers bad requests with OpenAI-style errors", async () => {
    const cases: [method: "POST" | "GET" | "PATCH" | "DELETE", path: string, body: unknown, status: number, message: string][] = [
      ["POST", "/credentials", { credential_values: { api_key: "k" }, credential_info: {} }, 400, "credential_name is required"],
      ["POST", "/credentials", { credential_name: "", credential_values: { api_key: "k" } }, 400, "credential_name is required"],
      ["POST", "/credentials", { credential_name: "empty", credential_info: {} }, 400, "credential_values or model_id is required"],
      ["POST", "/credentials", { credential_name: "listy", credential_values: ["k"] }, 400, "credential_values must be an object"],
      ["POST", "/credentials", { credential_name: "no-model", model_id: "no-such-model" }, 404, "no model with id no-such-model"],
      ["POST", "/credentials", { credential_name: "unset", credential_values: { api_key: "os.environ/GATEWAY_TEST_UNSET_KEY" } }, 400, "environment variable not set: credential \"unset\".credential_values.api_key (GATEWAY_TEST_UNSET_KEY)"],
      ["POST", "/credentials", { credential_name: "file-cred", credential_values: { api_key: "k" } }, 409, "in config.yaml's credential_list"],
      ["GET", "/credentials/by_name/nothing", undefined, 404, "no credential named nothing"],
      ["GET", "/credentials/by_model/nothing", undefined, 404, "no model with id nothing"],
      ["PATCH", "/credentials/nothing", { credential_values: { api_key: "k" } }, 404, "no stored credential named nothing"],
      ["PATCH", "/credentials/file-cred", { credential_values: { api_key: "k" } }, 400, "change it there"],
      ["DELETE", "/credentials/file-cred", undefined, 400, "remove it there"],
    ];
    for (const [method, path, body, status, message] of cases) {
      const res = await admin<Failure>(one, method, path, body);
      expect([method, path, res.status, res.json.error.message]).toEqual([method, path, status, expect.stringContaining(message)]);
    }
    const first = await admin(one, "POST", "/credentials", { credential_name: "twice", credential_values: { api_key: "sk-twice-0000" }, credential_info: {} });
    expect(first.status).toBe(200);
    const again = await admin<Failure>(one, "POST", "/credentials", { credential_name: "twice", credential_values: { api_key: "sk-twice-1111" }, credential_info: {} });
    expect([again.status, again.json.error.message]).toEqual([409, "a credential named twice already exists"]);
    const broken = await fetch(`${one}/credentials`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" }, body: "{" });
    expect(broken.status).toBe(400);
    expect((await admin(one, "DELETE", "/credentials/twice")).status).toBe(200);
  });

  it("keeps every credential route to the master key and admins", async () => {
    const key = await admin<GeneratedKey>(one, "POST", "/key/generate", {});
    const routes = [
      ["POST", "/credentials"],
      ["GET", "/credentials"],
      ["GET", "/credentials/by_name/file-cred"],
      ["GET", "/credentials/by_model/file-1"],
      ["PATCH", "/credentials/file-cred"],
      ["DELETE", "/credentials/file-cred"],
    ] as const;
    for (const [method, path] of routes) {
      const res = await fetch(`${one}${path}`, { method, headers: { authorization: `Bearer ${key.json.key}` }, ...(["POST", "PATCH"].includes(method) && { body: "{}" }) });
      const text = await res.text();
      expect([method, path, res.status]).toEqual([method, path, 401]);
      expect(text).not.toContain(FILE_KEY.slice(2, -2));
    }
  });
});

describe("stored credentials on a gateway split into services", () => {
  it("serves a config.yaml model naming a stored credential, and moves it to the credential's new key", async () => {
    const split = await startRoutingGateway(routingYaml(deployment("file-model", "file-1", provider)), "split");
    try {
      const created = await admin(split.baseUrl, "POST", "/credentials", {
        credential_name: "split-cred",
        credential_values: { api_key: FIRST_KEY, api_base: `${provider.url}/v1` },
        credential_info: {},
      });
      expect(created.status).toBe(200);
      split.rewrite(
        routingYaml(`${deployment("file-model", "file-1", provider)}  - model_name: from-file
    litellm_params: { model: openai/gpt-4o-mini, litellm_credential_name: split-cred }
    model_info: { id: from-file-1 }
`),
      );
      await eventually("the reloaded config to serve the model", async () => ask(split.baseUrl, "from-file").catch(() => undefined));
      expect(lastAuthorization()).toBe(`Bearer ${FIRST_KEY}`);
      expect((await admin(split.baseUrl, "PATCH", "/credentials/split-cred", { credential_values: { api_key: SECOND_KEY } })).status).toBe(200);
      await ask(split.baseUrl, "from-file");
      expect(lastAuthorization()).toBe(`Bearer ${SECOND_KEY}`);
      // A reference to the environment is stored as it is, and read by the router.
      expect((await admin(split.baseUrl, "PATCH", "/credentials/split-cred", { credential_values: { api_key: "os.environ/FAKE_PROVIDER_KEY" } })).status).toBe(200);
      await ask(split.baseUrl, "from-file");
      expect(lastAuthorization()).toBe(`Bearer ${PROVIDER_KEY}`);
      expect((await admin<Credential>(split.baseUrl, "GET", "/credentials/by_name/split-cred")).json.credential_values["api_key"]).toBe("os****EY");
      const inUse = await admin<Failure>(split.baseUrl, "DELETE", "/credentials/split-cred");
      expect([inUse.status, inUse.json.error.message]).toEqual([400, expect.stringContaining("model_list[1].litellm_params.litellm_credential_name")]);
    } finally {
      await split.close();
    }
  });
});

describe("stored credentials across a restart", () => {
  it("starts with a config.yaml model naming a credential stored before, and keeps it masked", async () => {
    const database = await createTestDatabase();
    const bus = await createTestBus();
    await bus.bus.close();
    const plumbing = { databaseUrl: database.url, nats: bus };
    const configPath = writeConfig(routingYaml(deployment("file-model", "file-1", provider)));
    let gateway: RunningGateway | undefined;
    try {
      const first = await startGateway(gatewayOptions("all", configPath, plumbing));
      const created = await admin(`http://127.0.0.1:${first.port}`, "POST", "/credentials", {
        credential_name: "kept-cred",
        credential_values: { api_key: FIRST_KEY, api_base: `${provider.url}/v1` },
        credential_info: {},
      });
      await first.close();
      expect(created.status).toBe(200);
      writeFileSync(
        configPath,
        routingYaml(`${deployment("file-model", "file-1", provider)}  - model_name: kept
    litellm_params: { model: openai/gpt-4o-mini, litellm_credential_name: kept-cred }
`),
      );
      gateway = await startGateway(gatewayOptions("all", configPath, plumbing));
      const base = `http://127.0.0.1:${gateway.port}`;
      expect((await ask(base, "kept")).choices[0]?.message.content).toBe("Echo: hello");
      expect(lastAuthorization()).toBe(`Bearer ${FIRST_KEY}`);
      expect((await admin<Credential>(base, "GET", "/credentials/by_name/kept-cred")).json.credential_values).toEqual({ api_key: "sk****89", api_base: `${provider.url}/v1` });
    } finally {
      await gateway?.close();
      await bus.close();
      await database.drop();
    }
  });
});
