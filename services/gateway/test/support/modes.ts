import { defaultBehavior, startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { startGateway, type RunningGateway } from "../../src/index.js";
import { MASTER_KEY, PROVIDER_KEY } from "./config.js";
import { gatewayOptions, startSplitGateway, type GatewayPlumbing } from "./gateway.js";

/** The three ways the gateway runs, as the end-to-end tests exercise them. */
export const MODES = [
  { name: "one process on Postgres and NATS", split: false, real: true },
  { name: "split services over Connect on Postgres and NATS", split: true, real: true },
  { name: "one process on PGlite and the in-process bus", split: false, real: false },
];

export type Mode = (typeof MODES)[number];

export interface ModeGateway {
  baseUrl: string;
  /** Its Postgres database, in the modes that use a real one. */
  databaseUrl: string | undefined;
  /** A ledger row by request id, once it is there, as GET /spend/logs shows it. */
  spendLog(requestId: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts the gateway on a config in one mode, with its own database and bus when the mode uses real ones. */
export async function startInMode(mode: Mode, configPath: string): Promise<ModeGateway> {
  let database: TestDatabase | undefined;
  let bus: TestBus | undefined;
  let gateway: RunningGateway | undefined;
  const plumbing: GatewayPlumbing = {};
  try {
    if (mode.real) {
      database = await createTestDatabase();
      bus = await createTestBus();
      await bus.bus.close();
      plumbing.databaseUrl = database.url;
      plumbing.nats = bus;
    }
    gateway = mode.split ? await startSplitGateway(configPath, plumbing) : await startGateway(gatewayOptions("all", configPath, plumbing));
  } catch (err) {
    await bus?.close();
    await database?.drop();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${gateway.port}`;
  return {
    baseUrl,
    databaseUrl: database?.url,
    spendLog: (requestId) =>
      eventually(`ledger row ${requestId}`, async () => {
        const res = await fetch(`${baseUrl}/spend/logs?request_id=${requestId}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
        expect(res.status).toBe(200);
        const rows = (await res.json()) as Record<string, unknown>[];
        return rows[0];
      }),
    async close() {
      await gateway?.close();
      await bus?.close();
      await database?.drop();
    },
  };
}

export interface FakeBehindGateway {
  /** Wants the provider key (FAKE_PROVIDER_KEY in the config), so a test sees which key went upstream. */
  provider: FakeProvider;
  gateway: ModeGateway;
  /** The official OpenAI client, with the master key, pointed at the gateway. */
  openai: OpenAI;
  close(): Promise<void>;
}

/** A fake provider and, in front of it, the gateway in `mode` on the config `config` writes for it. */
export async function startFakeBehindGateway(mode: Mode, config: (providerUrl: string) => string): Promise<FakeBehindGateway> {
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  const provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
  const gateway = await startInMode(mode, config(provider.url)).catch(async (err: unknown) => {
    await provider.close();
    throw err;
  });
  return {
    provider,
    gateway,
    openai: new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 }),
    async close() {
      await gateway.close();
      await provider.close();
    },
  };
}

/**
 * For the describe block it is called in: a fake provider behind the gateway
 * in `mode`, started before the block's tests (`started` gets it) and closed
 * after them. Before each test the provider forgets the requests it recorded
 * and goes back to its default behavior, so no test sees another's setting.
 */
export function fakeBehindGatewayPerTest(mode: Mode, config: (providerUrl: string) => string, started: (setup: FakeBehindGateway) => void): void {
  let setup: FakeBehindGateway | undefined;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, config);
    started(setup);
  });
  afterAll(() => setup?.close());
  beforeEach(() => {
    const provider = setup?.provider;
    if (!provider) return;
    provider.requests.length = 0;
    provider.behavior = defaultBehavior({ requireApiKey: PROVIDER_KEY });
  });
}
