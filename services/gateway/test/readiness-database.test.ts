import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, TcpProxy, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, startSplitGateway } from "./support/gateway.js";

// Readiness's "db" field says whether Postgres answers, while readiness
// itself stays 200: every replica shares the database, so a 503 from all of
// them would take every endpoint out of the load balancer, and the gateway
// still serves the model calls of the keys it holds. Postgres is reached
// through a proxy that cuts every connection and refuses new ones.

interface Readiness {
  status: number;
  body: { status?: string; db?: string };
}

async function readiness(url: string): Promise<Readiness> {
  const res = await fetch(`${url}/health/readiness`);
  return { status: res.status, body: (await res.json()) as Readiness["body"] };
}

/** Polls until readiness's "db" field says `db`, and returns that answer. */
function readinessSaying(url: string, db: string): Promise<Readiness> {
  return eventually(`readiness to say db: ${db}`, async () => {
    const answer = await readiness(url);
    return answer.body.db === db ? answer : undefined;
  });
}

describe("readiness while Postgres does not answer", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let proxy: TcpProxy;
  let bus: TestBus;
  let gateway: RunningGateway | undefined;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    proxy = await TcpProxy.start({ host: "127.0.0.1", port: 5432 });
    bus = await createTestBus();
  });

  afterEach(async () => {
    proxy.refusing = false;
    await gateway?.close();
    gateway = undefined;
  });

  afterAll(async () => {
    await bus?.close();
    await proxy?.close();
    await database?.drop();
    await provider?.close();
  });

  const cutPostgres = () => {
    proxy.refusing = true;
    proxy.cut();
  };

  it("in one process: says disconnected with a 200 while Postgres is unreachable, serves the master key's calls, and says connected once it is back", async () => {
    gateway = await startGateway(gatewayOptions("all", fakeOpenAIConfig(provider.url), { databaseUrl: proxy.urlTo(database.url) }));
    const url = `http://127.0.0.1:${gateway.port}`;
    expect(await readiness(url)).toEqual({ status: 200, body: { status: "healthy", db: "connected" } });

    cutPostgres();
    expect(await readinessSaying(url, "disconnected")).toEqual({ status: 200, body: { status: "healthy", db: "disconnected" } });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const { data } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "still there?" }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe("Echo: still there?");

    proxy.refusing = false;
    expect(await readinessSaying(url, "connected")).toEqual({ status: 200, body: { status: "healthy", db: "connected" } });
  });

  it("split: each service that holds the database says so, and the edge, which holds none, leaves the field out", async () => {
    const split = await startSplitGateway(fakeOpenAIConfig(provider.url), { databaseUrl: proxy.urlTo(database.url), nats: bus });
    gateway = split;
    const services = [split.peers.keysUrl, split.peers.routerUrl, split.peers.accountingUrl];
    expect(await readiness(`http://127.0.0.1:${split.port}`)).toEqual({ status: 200, body: { status: "healthy" } });
    for (const url of services) expect(await readiness(url)).toEqual({ status: 200, body: { status: "healthy", db: "connected" } });

    cutPostgres();
    for (const url of services) expect(await readinessSaying(url, "disconnected")).toEqual({ status: 200, body: { status: "healthy", db: "disconnected" } });

    proxy.refusing = false;
    for (const url of services) expect(await readinessSaying(url, "connected")).toEqual({ status: 200, body: { status: "healthy", db: "connected" } });
  });
});
