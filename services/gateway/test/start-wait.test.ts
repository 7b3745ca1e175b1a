import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { startThrowawayNats, startThrowawayPostgres, type ThrowawayNats, type ThrowawayPostgres } from "@gateway/testing";
import OpenAI from "openai";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// Postgres and NATS often come up alongside the gateway (compose, a
// Kubernetes rollout): a start waits GATEWAY_START_WAIT_SECONDS for them
// rather than exiting into a restart loop.

/** How long Postgres and NATS stay down after the gateway starts. */
const DOWN_MS = 1_500;

describe("a start while Postgres and NATS are not up yet", () => {
  let provider: FakeProvider;
  let postgres: ThrowawayPostgres;
  let nats: ThrowawayNats;
  const processes = new ProcessGroup();

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    [postgres, nats] = await Promise.all([startThrowawayPostgres(), startThrowawayNats()]);
    await Promise.all([postgres.stop(), nats.stop()]);
  });

  afterAll(async () => {
    await processes.close();
    await provider?.close();
    await Promise.all([nats?.close(), postgres?.close()]);
  });

  it("waits for each, says so in the log, then serves and books", async () => {
    const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: postgres.url, NATS_URL: nats.url, GATEWAY_START_WAIT_SECONDS: "60" };
    const starting = processes.start("all", { configPath: fakeOpenAIConfig(provider.url), env });
    // NATS first (the start opens it first), then Postgres, so that it waits for both.
    await sleep(DOWN_MS);
    await nats.start();
    await sleep(DOWN_MS);
    await postgres.start();
    const gateway = await starting;

    const waitedFor = gateway
      .output()
      .split("\n")
      .filter((line) => line.includes('"waiting for '))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(new Set(waitedFor)).toEqual(new Set([`waiting for NATS JetStream at ${new URL(nats.url).host} (NATS_URL)`, `waiting for Postgres at ${new URL(postgres.url).host}/postgres (DATABASE_URL)`]));
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hello" }] }).withResponse();
    expect(response.status).toBe(200);
    const spendLogs = `${gateway.url}/spend/logs?request_id=${response.headers.get("x-litellm-call-id")}`;
    await expect.poll(async () => ((await (await fetch(spendLogs, { headers: { authorization: `Bearer ${MASTER_KEY}` } })).json()) as unknown[]).length).toBe(1);
  });

  it("gives up after GATEWAY_START_WAIT_SECONDS with exit 1 and the last reason, having logged each try", async () => {
    const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: "postgres://gateway:db-password-123@127.0.0.1:1/ledger", NATS_URL: "", GATEWAY_DATA_DIR: "", GATEWAY_START_WAIT_SECONDS: "1" };
    const start = processes.start("all", { configPath: fakeOpenAIConfig(provider.url), env });
    await expect(start).rejects.toThrow(/exited \(1\) before listening:\n[^]*"waiting for Postgres at 127\.0\.0\.1:1\/ledger \(DATABASE_URL\)"[^]*cannot reach Postgres at 127\.0\.0\.1:1\/ledger \(DATABASE_URL\): connect ECONNREFUSED/);
    await expect(start).rejects.not.toThrow(/db-password-123/);
  });

  it("gives up on a Postgres that takes connections but never answers after general_settings.database_connection_timeout", async () => {
    // Accepts and holds every connection: without the setting, each try would wait 30 s.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((listening) => silent.listen(0, "127.0.0.1", listening));
    try {
      const { port } = silent.address() as AddressInfo;
      const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: `postgres://gateway@127.0.0.1:${port}/ledger`, NATS_URL: "", GATEWAY_DATA_DIR: "", GATEWAY_START_WAIT_SECONDS: "0" };
      const config = fakeOpenAIConfig(provider.url, "  database_connection_timeout: 0.5");
      await expect(processes.start("all", { configPath: config, env })).rejects.toThrow(/exited \(1\) before listening:\n[^]*cannot reach Postgres at 127\.0\.0\.1:\d+\/ledger \(DATABASE_URL\): write CONNECT_TIMEOUT/);
      expect(held.length).toBeGreaterThan(0);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((closed) => silent.close(closed));
    }
  }, 15_000);

  it("does not wait when NATS refuses its credentials: exits 2 at once, not the password", async () => {
    const guarded = await startThrowawayNats(["--user", "gateway", "--pass", "right-password"]);
    try {
      const url = new URL(guarded.url);
      url.username = "gateway";
      url.password = "nats-password-123";
      const env = { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: "", NATS_URL: url.toString(), GATEWAY_DATA_DIR: "", GATEWAY_START_WAIT_SECONDS: "60" };
      const start = processes.start("all", { configPath: fakeOpenAIConfig(provider.url), env });
      await expect(start).rejects.toThrow(new RegExp(`exited \\(2\\) before listening:\\n[^]*cannot use NATS JetStream at ${url.host} \\(NATS_URL\\): `));
      await expect(start).rejects.not.toThrow(/waiting for|nats-password-123/);
    } finally {
      await guarded.close();
    }
  });
});
