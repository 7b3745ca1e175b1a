import { createServer, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";

// Nothing to keep: PGlite in memory, so each start is quick; and no waiting
// for a Postgres or NATS that is not there (start-wait.test.ts waits).
const IN_MEMORY = { DATABASE_URL: "", NATS_URL: "", GATEWAY_DATA_DIR: "", FAKE_PROVIDER_KEY: PROVIDER_KEY, GATEWAY_START_WAIT_SECONDS: "0" };

describe("a gateway that cannot start says why in one line", () => {
  const processes = new ProcessGroup();
  // Never called: the gateway stops before it serves.
  const configPath = fakeOpenAIConfig("http://127.0.0.1:9");
  afterAll(() => processes.close());

  it("on a port something else holds, exits 2 with one line that says so, not a stack trace", async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      const start = processes.start("all", { configPath, port, env: IN_MEMORY });
      await expect(start).rejects.toThrow(new RegExp(`exited \\(2\\) before listening:\\n[^]*cannot listen on 127\\.0\\.0\\.1:${port}: something else already does`));
      await expect(start).rejects.not.toThrow(/setupListenHandle/);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("when Postgres does not answer at DATABASE_URL: exits 1, names the setting and the host, not the password", async () => {
    const start = processes.start("all", { configPath, env: { ...IN_MEMORY, DATABASE_URL: "postgres://gateway:db-password-123@127.0.0.1:1/ledger" } });
    await expect(start).rejects.toThrow(/exited \(1\) before listening:\n[^]*cannot reach Postgres at 127\.0\.0\.1:1\/ledger \(DATABASE_URL\): connect ECONNREFUSED/);
    await expect(start).rejects.not.toThrow(/db-password-123|SELECT 1/);
  });

  it("when Postgres answers that the database does not exist: exits 2 at once (neither waiting nor a restart will create it), not the password", async () => {
    const missing = `gateway_missing_${process.pid}_${Date.now()}`;
    const start = processes.start("all", { configPath, env: { ...IN_MEMORY, DATABASE_URL: `postgres://postgres:db-password-123@127.0.0.1:5432/${missing}`, GATEWAY_START_WAIT_SECONDS: "60" } });
    await expect(start).rejects.toThrow(new RegExp(`exited \\(2\\) before listening:\\n[^]*cannot use Postgres at 127\\.0\\.0\\.1:5432/${missing} \\(DATABASE_URL\\): database "${missing}" does not exist`));
    await expect(start).rejects.not.toThrow(/db-password-123/);
  });

  it("with a DATABASE_URL that does not parse: exits 2 at once (waiting will not help) without quoting it", async () => {
    const start = processes.start("all", { configPath, env: { ...IN_MEMORY, DATABASE_URL: "postgres://gateway:db-password-123@no such host/ledger", GATEWAY_START_WAIT_SECONDS: "60" } });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*cannot use Postgres at an address that does not parse as a URL \(DATABASE_URL\)/);
    await expect(start).rejects.not.toThrow(/waiting for/);
    await expect(start).rejects.not.toThrow(/db-password-123/);
  });

  it("with a DATABASE_URL without a scheme (host:port/db): exits 2 at once rather than looking up part of the host", async () => {
    const start = processes.start("all", { configPath, env: { ...IN_MEMORY, DATABASE_URL: "gateway:db-password-123@localhost:5432/ledger", GATEWAY_START_WAIT_SECONDS: "60" } });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*cannot use Postgres at an address that does not parse as a URL \(DATABASE_URL\): Invalid URL/);
    await expect(start).rejects.not.toThrow(/waiting for/);
    await expect(start).rejects.not.toThrow(/db-password-123/);
  });

  it("when NATS does not answer at NATS_URL: exits 1, names the setting and the host, not the password", async () => {
    const start = processes.start("all", { configPath, env: { ...IN_MEMORY, NATS_URL: "nats://gateway:nats-password-123@127.0.0.1:1" } });
    await expect(start).rejects.toThrow(/exited \(1\) before listening:\n[^]*cannot use NATS JetStream at 127\.0\.0\.1:1 \(NATS_URL\): /);
    await expect(start).rejects.not.toThrow(/nats-password-123/);
  });

  it("run as one service without what it needs: exits 2 naming the missing setting", async () => {
    const start = processes.start("keys", { configPath, env: { ...IN_MEMORY, NATS_URL: "" } });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\nNATS_URL must be set when running the keys service on its own\n$/);
  });

  it("split without a master key (the services' calls to each other need it): exits 2 naming the setting", async () => {
    const noMasterKey = writeConfig("model_list: []\n");
    const peers = { KEYS_URL: "http://127.0.0.1:9", ROUTER_URL: "http://127.0.0.1:9", ACCOUNTING_URL: "http://127.0.0.1:9" };
    const start = processes.start("edge", { configPath: noMasterKey, env: { ...IN_MEMORY, ...peers, LITELLM_MASTER_KEY: "" } });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\ngeneral_settings\.master_key \(or the LITELLM_MASTER_KEY variable\) must be set: split, the services' calls to each other carry a credential derived from it\n$/);
  });

  // A mistake in config.yaml is found before the database opens: no waiting
  // for a Postgres that is not there yet (or creating an embedded one), and
  // the config's own message rather than the database's.
  const UNREACHABLE_POSTGRES = { ...IN_MEMORY, DATABASE_URL: "postgres://gateway:db-password-123@127.0.0.1:1/ledger", GATEWAY_START_WAIT_SECONDS: "30" };

  it("with a provider it does not speak in model_list: exits 2 naming the entry before it opens the database", async () => {
    const typo = writeConfig(`model_list:
  - model_name: fast-model
    litellm_params: { model: opnai/gpt-4o-mini, api_key: sk-x }
general_settings:
  master_key: sk-master-test-0123456789
`);
    const started = Date.now();
    const start = processes.start("all", { configPath: typo, env: UNREACHABLE_POSTGRES });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*model_list\[0\]\.litellm_params\.model: provider "opnai" is not supported/);
    await expect(start).rejects.not.toThrow(/Postgres|waiting for/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("without a master key: exits 2 naming the setting before it opens the database", async () => {
    const noMasterKey = writeConfig("model_list: []\n");
    const start = processes.start("all", { configPath: noMasterKey, env: { ...UNREACHABLE_POSTGRES, LITELLM_MASTER_KEY: "" } });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*general_settings\.master_key \(or the LITELLM_MASTER_KEY variable\) must be set/);
    await expect(start).rejects.not.toThrow(/Postgres|waiting for/);
  });

  it("on an address no interface has, exits 2 and names the host setting", async () => {
    // TEST-NET-1 (RFC 5737): never assigned to this machine.
    const start = processes.start("all", { configPath, env: IN_MEMORY, args: ["--host", "192.0.2.1"] });
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\n[^]*cannot listen on 192\.0\.2\.1(:\d+)?: no interface of this machine has that address; check --host or HOST/);
  });
});
