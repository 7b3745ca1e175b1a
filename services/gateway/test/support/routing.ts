import { writeFileSync } from "node:fs";
import type { FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { expect } from "vitest";
import { startGateway, type RunningGateway } from "../../src/index.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./config.js";
import { gatewayOptions, startSplitGateway } from "./gateway.js";

/** One model_list entry on a fake provider, with the provider key from the environment. */
export function deployment(group: string, id: string, provider: FakeProvider, params = "", info = ""): string {
  return `  - model_name: ${group}
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY${params ? `, ${params}` : ""} }
    model_info: { id: ${id}${info ? `, ${info}` : ""} }
`;
}

/** A whole config.yaml: the entries, then any settings sections, with the test master key. */
export function routingYaml(entries: string, settings = ""): string {
  return `model_list:
${entries}
general_settings:
  master_key: ${MASTER_KEY}
${settings}`;
}

export interface RoutingGateway {
  baseUrl: string;
  configPath: string;
  gateway: RunningGateway;
  client: OpenAI;
  /** Replaces config.yaml on disk, as an operator would. */
  rewrite(yaml: string): void;
  /** The ledger row of a request, once it is there. */
  spendLog(requestId: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/**
 * The gateway on real Postgres and NATS, one process or split into services,
 * with its own database and stream.
 */
export async function startRoutingGateway(yaml: string, mode: "one process" | "split" = "one process"): Promise<RoutingGateway> {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  const configPath = writeConfig(yaml);
  const database: TestDatabase = await createTestDatabase();
  let bus: TestBus | undefined;
  let gateway: RunningGateway;
  try {
    bus = await createTestBus();
    await bus.bus.close();
    const plumbing = { databaseUrl: database.url, nats: bus };
    gateway = mode === "split" ? await startSplitGateway(configPath, plumbing) : await startGateway(gatewayOptions("all", configPath, plumbing));
  } catch (err) {
    await bus?.close();
    await database.drop();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${gateway.port}`;
  return {
    baseUrl,
    configPath,
    gateway,
    client: new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 }),
    rewrite: (text) => writeFileSync(configPath, text),
    spendLog: (requestId) =>
      eventually(`ledger row ${requestId}`, async () => {
        const res = await fetch(`${baseUrl}/spend/logs?request_id=${requestId}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
        expect(res.status).toBe(200);
        return ((await res.json()) as Record<string, unknown>[])[0];
      }),
    async close() {
      await gateway.close();
      await bus?.close();
      await database.drop();
    },
  };
}

/** Two gateways in one process each ("all"), sharing one Postgres and one NATS: two router replicas. */
export async function startReplicaPair(yaml: string): Promise<{ urls: [string, string]; databaseUrl: string; close(): Promise<void> }> {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  const configPath = writeConfig(yaml);
  const database = await createTestDatabase();
  const bus = await createTestBus();
  await bus.bus.close();
  const running: RunningGateway[] = [];
  const close = async () => {
    for (const g of running.reverse()) await g.close();
    await bus.close();
    await database.drop();
  };
  try {
    const plumbing = { databaseUrl: database.url, nats: bus };
    for (let i = 0; i < 2; i++) running.push(await startGateway(gatewayOptions("all", configPath, plumbing)));
  } catch (err) {
    await close();
    throw err;
  }
  return { urls: [`http://127.0.0.1:${running[0]!.port}`, `http://127.0.0.1:${running[1]!.port}`], databaseUrl: database.url, close };
}

/** A chat completion with its response headers. */
export async function ask(client: OpenAI, model: string, content = "hi", extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages: [{ role: "user", content }], ...extra }).withResponse();
  return { data, headers: response.headers };
}
