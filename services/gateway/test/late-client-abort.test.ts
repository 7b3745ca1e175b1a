import { createServer, connect, type Server, type Socket } from "node:net";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway, type ServiceName } from "../src/index.js";
import { admin, type GeneratedKey } from "./support/admin.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, type GatewayPlumbing } from "./support/gateway.js";

// Split, a client may leave after the router has finished its call (and
// booked it in the ledger) but before the edge has read the router's
// Finished event: the router saw no cancel, and the edge never learns what
// the call used. The key must still be charged what the ledger books, not
// the whole reservation. A TCP hop between the edge and the router holds
// the router's answer back while the client leaves, so this happens every
// time rather than by chance under load.

/** A TCP relay to `target` whose replies (target to caller) can be held back and let through later. */
interface Relay {
  port: number;
  /** Bytes the caller has sent since it was made or last asked. */
  sentByCaller(): number;
  hold(): void;
  letThrough(): void;
  close(): Promise<void>;
}

async function relay(target: number): Promise<Relay> {
  let holding = false;
  let fromCaller = 0;
  const held: { socket: Socket; data: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((caller) => {
    const upstream = connect(target, "127.0.0.1");
    for (const s of [caller, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    caller.on("data", (data: Buffer) => {
      fromCaller += data.length;
      upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (holding) held.push({ socket: caller, data });
      else caller.write(data);
    });
    caller.on("close", () => upstream.destroy());
    upstream.on("close", () => caller.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    sentByCaller: () => {
      const n = fromCaller;
      fromCaller = 0;
      return n;
    },
    hold: () => {
      holding = true;
    },
    letThrough: () => {
      holding = false;
      for (const { socket, data } of held.splice(0)) socket.write(data);
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let provider: FakeProvider;
let database: TestDatabase;
let bus: TestBus;
let routerRelay: Relay;
const running: RunningGateway[] = [];
let edge: string;

beforeAll(async () => {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider();
  database = await createTestDatabase();
  bus = await createTestBus();
  const config = fakeOpenAIConfig(provider.url);
  const plumbing: GatewayPlumbing = { databaseUrl: database.url, nats: bus };
  const start = async (service: ServiceName, peers = {}) => {
    const s = await startGateway(gatewayOptions(service, config, plumbing, peers));
    running.push(s);
    return s.port;
  };
  const [keys, router, accounting] = [await start("keys"), await start("router"), await start("accounting")];
  routerRelay = await relay(router);
  const url = (port: number) => `http://127.0.0.1:${port}`;
  edge = url(await start("edge", { keysUrl: url(keys), routerUrl: url(routerRelay.port), accountingUrl: url(accounting) }));
});

afterAll(async () => {
  for (const s of running.reverse()) await s.close();
  await routerRelay?.close();
  await provider?.close();
  await bus?.close();
  await database?.drop();
});

describe("a client that leaves after the router has finished, split", () => {
  it("is charged to the key's budget what the ledger books", async () => {
    const { json: minted } = await admin<GeneratedKey>(edge, "POST", "/key/generate", { max_budget: 1 });
    const client = new OpenAI({ baseURL: `${edge}/v1`, apiKey: minted.key, maxRetries: 0 });
    const ask = (signal?: AbortSignal) =>
      client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "late" }], max_tokens: 100 }, { signal });
    // One whole request first: the edge's connection to the router is up, and the key charged for it.
    const first = await ask().withResponse();
    const firstId = first.response.headers.get("x-litellm-call-id")!;
    const keySpend = async () => (await admin<{ info: { spend: number } }>(edge, "GET", `/key/info?key=${minted.key}`)).json.info.spend;
    await eventually("the first request charged", async () => ((await keySpend()) > 0 ? true : undefined));

    routerRelay.hold();
    const leave = new AbortController();
    const late = ask(leave.signal).catch((err: unknown) => err);
    // The router has answered and booked the call; its answer has not reached the edge.
    const rows = await eventually("the second request in the ledger", async () => {
      const res = await fetch(`${edge}/spend/logs?api_key=${minted.token}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      const logs = (await res.json()) as { request_id: string; spend: number }[];
      return logs.length === 2 ? logs : undefined;
    });
    routerRelay.sentByCaller();
    leave.abort();
    // The edge has cancelled its call to the router (the reset went through the relay).
    await eventually("the edge to cancel the call", async () => (routerRelay.sentByCaller() > 0 ? true : undefined));
    routerRelay.letThrough();
    await late;

    const ledger = rows.reduce((sum, r) => sum + r.spend, 0);
    expect(rows.map((r) => r.request_id)).toContain(firstId);
    await eventually("the key charged as the ledger", async () => (Math.abs((await keySpend()) - ledger) < 1e-12 ? true : undefined), 6_000);
    // Past the edge's own fallback for calls whose usage it never read: nothing changes.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(await keySpend()).toBeCloseTo(ledger, 12);
  });
});
