import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { connectTransport, InternalCredential, transportClient } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType, RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, INTERNAL_CREDENTIAL, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { startSplitGateway, type SplitPeers } from "./support/gateway.js";

// Split, each service listens on a port of its own. Reaching one must not be
// enough to run a model call on the provider keys, settle a reservation or
// manage models: every call needs the credential the services derive from
// the master key (the edge's carry it), or the master key itself as its
// bearer token (an operator's curl or buf). Management calls also take the
// master key only, as the keys service's do, and the edge's routes keep
// working with it.

const encoder = new TextEncoder();
const bearer = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
/** Whoever reaches a port: a Connect client with no credential of the gateway's. */
const stranger = (url: string): Transport => createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true });
/** A credential of another gateway, one with another master key. */
const WRONG_CREDENTIAL = new InternalCredential("sk-another-gateway-master-key");
const chat = (content: string) => JSON.stringify({ model: "fast-model", messages: [{ role: "user", content }] });

async function readAll(responses: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of responses);
}

/** A GET's status, as a probe sees it, on a connection of its own (closed after, so it does not hold the port's close up). */
function probe(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

describe("split services' own ports", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let gateway: RunningGateway | undefined;
  let edgeUrl: string;
  let peers: SplitPeers;
  // As an operator or anyone else would call them, and as the edge does.
  let router: Client<typeof RouterService>;
  let accounting: Client<typeof AccountingService>;
  let routerAsEdge: Client<typeof RouterService>;
  let accountingAsEdge: Client<typeof AccountingService>;
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
    peers = split.peers;
    router = transportClient(RouterService, stranger(peers.routerUrl));
    accounting = transportClient(AccountingService, stranger(peers.accountingUrl));
    routerAsEdge = transportClient(RouterService, connectTransport(peers.routerUrl, INTERNAL_CREDENTIAL));
    accountingAsEdge = transportClient(AccountingService, connectTransport(peers.accountingUrl, INTERNAL_CREDENTIAL));
  });

  afterAll(async () => {
    await gateway?.close();
    await new Promise((resolve) => collector?.close(resolve));
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("refuses a model call straight to the router's port without the gateway's credential, and runs it through the edge", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    const call = { requestId: "straight-to-the-router", callType: CallType.CHAT_COMPLETIONS, body: encoder.encode(chat("spend someone else's budget")), keyHash: virtual.token };
    const calledBefore = provider.requests.length;
    for (const transport of [stranger(peers.routerUrl), connectTransport(peers.routerUrl, WRONG_CREDENTIAL)]) {
      const client = transportClient(RouterService, transport);
      await expect(readAll(client.complete(call))).rejects.toMatchObject({ code: Code.Unauthenticated });
      await expect(readAll(client.complete(call, bearer(virtual.key)))).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    expect(provider.requests.length).toBe(calledBefore);
    const res = await fetch(`${edgeUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${virtual.key}`, "content-type": "application/json" },
      body: chat("through the front door"),
    });
    expect(res.status).toBe(200);
    expect(provider.requests.length).toBe(calledBefore + 1);
  });

  it("refuses Authorize and Release straight to the keys service's port without the gateway's credential", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    for (const transport of [stranger(peers.keysUrl), connectTransport(peers.keysUrl, WRONG_CREDENTIAL)]) {
      const keys = transportClient(KeysService, transport);
      await expect(keys.authorize({ apiKey: virtual.key, requestId: "straight-to-keys", model: "fast-model" })).rejects.toMatchObject({ code: Code.Unauthenticated });
      await expect(keys.release({ requestId: "straight-to-keys", keyHash: virtual.token })).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    // The edge's calls carry the credential.
    const keys = transportClient(KeysService, connectTransport(peers.keysUrl, INTERNAL_CREDENTIAL));
    const authorized = await keys.authorize({ apiKey: virtual.key, requestId: "as-the-edge", model: "fast-model" });
    expect(authorized.keyHash).toBe(virtual.token);
    await keys.release({ requestId: "as-the-edge", keyHash: virtual.token, holder: authorized.holder });
  });

  it("takes the master key as a bearer token without the credential, as an operator's curl or buf sends it", async () => {
    expect((await router.getModelInfo({ id: "" }, bearer(MASTER_KEY))).models).toHaveLength(1);
    await expect(accounting.topKeys({}, bearer(MASTER_KEY))).resolves.toBeDefined();
    // JSON, as curl sends it, goes through connect-node's server path.
    const viaJson = transportClient(RouterService, createConnectTransport({ baseUrl: peers.routerUrl, httpVersion: "2", useBinaryFormat: false }));
    expect((await viaJson.getModelInfo({ id: "" }, bearer(MASTER_KEY))).models).toHaveLength(1);
    await expect(viaJson.getModelInfo({ id: "" })).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("keeps the services' health probes and metrics open", async () => {
    for (const url of [peers.keysUrl, peers.routerUrl, peers.accountingUrl]) {
      for (const path of ["/health/liveliness", "/health/readiness", "/metrics"]) {
        expect([path, await probe(`${url}${path}`)]).toEqual([path, 200]);
      }
    }
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
    // Without the credential the port refuses; with it (a caller holding the
    // edge's credential) the method still takes the master key only.
    for (const [client, options, code] of [
      [router, {}, Code.Unauthenticated],
      [router, bearer(virtual.key), Code.Unauthenticated],
      [routerAsEdge, {}, Code.Unauthenticated],
      [routerAsEdge, bearer(virtual.key), Code.PermissionDenied],
    ] as const) {
      await expect(client.addModel({ model }, options)).rejects.toMatchObject({ code });
      await expect(client.getModelInfo({ id: "" }, options)).rejects.toMatchObject({ code });
      await expect(client.checkHealth({ model: "" }, options)).rejects.toMatchObject({ code });
      await expect(client.deleteModel({ id: "exfiltrate-1" }, options)).rejects.toMatchObject({ code });
      await expect(client.updateModel({ id: "exfiltrate-1", changes: model }, options)).rejects.toMatchObject({ code });
    }
    expect((await routerAsEdge.getModelInfo({ id: "" }, bearer(MASTER_KEY))).models).toHaveLength(1);
    expect(collected).toEqual([]);
  });

  it("refuses the accounting service's spend queries without the master key", async () => {
    const { json: virtual } = await admin<GeneratedKey>(edgeUrl, "POST", "/key/generate", {});
    for (const [client, options, code] of [
      [accounting, {}, Code.Unauthenticated],
      [accounting, bearer(virtual.key), Code.Unauthenticated],
      [accountingAsEdge, {}, Code.Unauthenticated],
      [accountingAsEdge, bearer(virtual.key), Code.PermissionDenied],
    ] as const) {
      await expect(client.listSpendLogs({}, options)).rejects.toMatchObject({ code });
      await expect(client.keySpend({ keyHashes: [virtual.token] }, options)).rejects.toMatchObject({ code });
      await expect(client.spendReport({ startDate: "2026-01-01", endDate: "2026-01-02" }, options)).rejects.toMatchObject({ code });
      await expect(client.topKeys({}, options)).rejects.toMatchObject({ code });
      await expect(client.topModels({}, options)).rejects.toMatchObject({ code });
    }
    await expect(accountingAsEdge.topKeys({}, bearer(MASTER_KEY))).resolves.toBeDefined();
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
    const refused = await fetch(`${edgeUrl}/global/spend/models`, { headers: { authorization: `Bearer ${virtual.key}` } });
    expect(refused.status).toBe(401);
  });
});
