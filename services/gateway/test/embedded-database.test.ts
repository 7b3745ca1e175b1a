import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createLogger } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { CREATE_ONLY, creatingMarker, directoryLock, startEmbeddedDatabase } from "../src/embedded-database/start.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gone, running } from "./support/pids.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

// `npm start` without DATABASE_URL: PGlite runs in a child process of the
// gateway, which reaches it over a unix socket like any Postgres.

const ALL_IN_ONE = { DATABASE_URL: "", NATS_URL: "", FAKE_PROVIDER_KEY: PROVIDER_KEY };
// Each gateway start creates a PGlite database, several seconds of CPU on a busy machine.
const TIMEOUT_MS = 120_000;

/** The pid on the first log line with this message in the gateway's output. */
function loggedPid(gateway: GatewayProcess, msg: string): number {
  for (const line of gateway.output().split("\n")) {
    if (line.includes(`"msg":"${msg}"`)) return (JSON.parse(line) as { pid: number }).pid;
  }
  throw new Error(`no "${msg}" in the gateway's output:\n${gateway.output()}`);
}

const databasePid = (gateway: GatewayProcess) => loggedPid(gateway, "embedded database ready");

/** The private directory of the embedded database's socket, from its "ready" log line. */
function socketDirOf(gateway: GatewayProcess): string {
  const line = gateway.output().split("\n").find((l) => l.includes('"msg":"embedded database ready"'));
  return dirname((JSON.parse(line!) as { socketPath: string }).socketPath);
}

describe("the embedded database (PGlite in a child process of `npm start`)", () => {
  let provider: FakeProvider;
  let configPath: string;
  const processes = new ProcessGroup();

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    configPath = fakeOpenAIConfig(provider.url);
  });
  afterEach(() => processes.close());
  afterAll(async () => {
    await processes.close();
    await provider?.close();
  });

  it("books a completion's ledger row in the child's PGlite, stops with the gateway, and keeps the row across a restart", async () => {
    const gateway = await processes.start("all", { configPath, env: ALL_IN_ONE });
    const database = databasePid(gateway);
    expect(database).not.toBe(loggedPid(gateway, "gateway listening"));
    expect(running(database)).toBe(true);
    // A new directory's database is created by a child of its own, which has
    // exited: creating takes PGlite's memory to over 700 MB here, serving to about 200.
    const creator = loggedPid(gateway, "embedded database created");
    expect(creator).not.toBe(database);
    expect(running(creator)).toBe(false);
    if (existsSync(`/proc/${database}/status`)) expect(residentMb(database)).toBeLessThan(450);
    // Ledger batches yield the CPU to requests.
    expect(getPriority(database)).toBe(Math.min(19, getPriority(loggedPid(gateway, "gateway listening")) + 10));
    // The child gets no secrets from the gateway's environment.
    if (existsSync(`/proc/${database}/environ`)) expect(readFileSync(`/proc/${database}/environ`, "utf8")).not.toContain(PROVIDER_KEY);

    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }).withResponse();
    const requestId = response.headers.get("x-litellm-call-id")!;
    const spendLog = (url: string) =>
      eventually(`ledger row ${requestId}`, async () => {
        const res = await fetch(`${url}/spend/logs?request_id=${requestId}`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
        return ((await res.json()) as { request_id: string; status: string }[])[0];
      });
    expect(await spendLog(gateway.url)).toMatchObject({ request_id: requestId, status: "success" });
    expect(existsSync(join(gateway.dataDir, "pglite", "PG_VERSION"))).toBe(true);

    expect(await gateway.stop("SIGTERM")).toBe(0);
    expect(gateway.output()).toContain('"reason":"SIGTERM","msg":"embedded database stopping"');
    expect(running(database)).toBe(false);

    const restarted = await processes.start("all", { configPath, dataDir: gateway.dataDir, env: ALL_IN_ONE });
    expect(await spendLog(restarted.url)).toMatchObject({ request_id: requestId, status: "success" });
    expect(restarted.output()).not.toContain('"msg":"embedded database created"');
  }, TIMEOUT_MS);

  it("exits when the gateway is killed with SIGKILL, leaving no orphan, and a gateway started at once takes the directory over", async () => {
    const gateway = await processes.start("all", { configPath, env: ALL_IN_ONE });
    const database = databasePid(gateway);
    expect(await gateway.stop("SIGKILL")).toBe("SIGKILL");
    // Started before the killed gateway's database has closed: it waits for it.
    const restarted = await processes.start("all", { configPath, dataDir: gateway.dataDir, env: ALL_IN_ONE });
    expect(running(database)).toBe(false);
    expect(await chat(restarted)).toBeTruthy();
  }, TIMEOUT_MS);

  it("keeps a second gateway off its data directory while it runs, and gives the directory up when it stops", async () => {
    const first = await processes.start("all", { configPath, env: ALL_IN_ONE });
    const lock = directoryLock(join(first.dataDir, "pglite"));
    expect(readFileSync(lock, "utf8")).toMatch(new RegExp(`^${databasePid(first)} \\d+$`));
    const second = processes.start("all", { configPath, dataDir: first.dataDir, env: ALL_IN_ONE });
    await expect(second).rejects.toThrow(
      new RegExp(`exited \\(1\\) before listening:\\n(.*\\n)*.*its stderr:\\nthe embedded database's directory .*pglite is in use by another process \\(pid ${databasePid(first)}: `),
    );
    expect(await chat(first)).toBeTruthy();

    // A gateway killed while its database waits for the lock takes that database with it.
    const killed = processes.start("all", { configPath, dataDir: first.dataDir, env: ALL_IN_ONE });
    const pglite = join(first.dataDir, "pglite");
    const waiting = await eventually("the waiting database", async () => findProcess((args, pid) => args.includes(pglite) && pid !== databasePid(first)));
    process.kill(parentOf(waiting), "SIGKILL");
    await expect(killed).rejects.toThrow(/SIGKILL/);
    // Well before its wait for the lock would have ended (5 s).
    await gone([waiting], 2_500);
    expect(await chat(first)).toBeTruthy();

    expect(await first.stop("SIGTERM")).toBe(0);
    expect(existsSync(lock)).toBe(false);

    // A lock whose holder is gone (killed, or from before a reboot) is taken over.
    writeFileSync(lock, `${process.pid} 1`);
    const third = await processes.start("all", { configPath, dataDir: first.dataDir, env: ALL_IN_ONE });
    expect(readFileSync(lock, "utf8")).toMatch(new RegExp(`^${databasePid(third)} `));
  }, TIMEOUT_MS);

  it("reports the gateway not ready once the embedded database dies under it", async () => {
    const gateway = await processes.start("all", { configPath, env: ALL_IN_ONE });
    const readiness = async () => (await fetch(`${gateway.url}/health/readiness`)).status;
    expect(await readiness()).toBe(200);
    const socketDir = socketDirOf(gateway);
    expect(existsSync(socketDir)).toBe(true);
    process.kill(databasePid(gateway), "SIGKILL");
    await eventually("readiness to fail", async () => ((await readiness()) === 503 ? true : undefined));
    expect(gateway.output()).toContain("the embedded database exited on its own");
    // The killed child could not remove its socket's directory; the gateway did.
    expect(existsSync(socketDir)).toBe(false);
  }, TIMEOUT_MS);

  it("that cannot open its database fails the gateway's start with PGlite's own error, and no stack trace of the gateway's", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gateway-all-"));
    // A database directory with nothing in it but its version.
    mkdirSync(join(dataDir, "pglite"));
    writeFileSync(join(dataDir, "pglite", "PG_VERSION"), "17\n");
    const start = processes.start("all", { configPath, dataDir, env: ALL_IN_ONE });
    const failed = await start.then(() => "", (err: Error) => err.message);
    expect(failed).toMatch(/exited \(1\) before listening:\n(.*\n)*the embedded database \(PGlite, .*dist\/embedded-database\/main\.js\) exited \(code 1\) before it was ready; its stderr:\n./);
    expect(failed).not.toMatch(/(Startup)?Error: the embedded database/);
  }, TIMEOUT_MS);

  it("refuses a directory that holds something other than a database, and leaves it as it is", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gateway-all-"));
    mkdirSync(join(dataDir, "pglite"));
    writeFileSync(join(dataDir, "pglite", "notes.txt"), "mine");
    const start = processes.start("all", { configPath, dataDir, env: ALL_IN_ONE });
    // Exit 2: the operator has to move it; restarting would not help.
    await expect(start).rejects.toThrow(/exited \(2\) before listening:\nthe embedded database's directory .*pglite holds no database \(no PG_VERSION\) but is not an empty directory: move it away/);
    expect(readFileSync(join(dataDir, "pglite", "notes.txt"), "utf8")).toBe("mine");
  }, TIMEOUT_MS);

  it("cut short while creating its database (the gateway killed), starts cleanly the next time", async () => {
    // A data directory that does not exist yet, as on a first `npm start`.
    const root = mkdtempSync(join(tmpdir(), "gateway-all-"));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = join(root, "data");
    const pglite = join(dataDir, "pglite");
    const start = processes.start("all", { configPath, dataDir, env: ALL_IN_ONE });
    const creator = await eventually("the creating child", async () => findProcess((args) => args.includes(pglite) && args.includes(CREATE_ONLY)));
    await eventually("the marker", async () => (existsSync(creatingMarker(pglite)) ? true : undefined));
    process.kill(parentOf(creator), "SIGKILL");
    await expect(start).rejects.toThrow(/SIGKILL/);
    // It stops with the gateway rather than creating for nobody.
    await gone([creator], 15_000);
    expect(existsSync(creatingMarker(pglite))).toBe(true);

    const gateway = await processes.start("all", { configPath, dataDir, env: ALL_IN_ONE });
    expect(gateway.output()).toContain("an earlier start stopped while creating the embedded database; creating it anew");
    expect(gateway.output()).toContain('"msg":"embedded database created"');
    expect(existsSync(creatingMarker(pglite))).toBe(false);
    expect(await chat(gateway)).toBeTruthy();
  }, TIMEOUT_MS);

  it("empties and creates anew a directory whose creation was cut short after PGlite wrote its PG_VERSION", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gateway-all-"));
    const pglite = join(dataDir, "pglite");
    // What a creation killed half way leaves: the skeleton, PG_VERSION first, and the marker.
    mkdirSync(join(pglite, "base"), { recursive: true });
    writeFileSync(join(pglite, "PG_VERSION"), "17\n");
    writeFileSync(creatingMarker(pglite), "");
    const gateway = await processes.start("all", { configPath, dataDir, env: ALL_IN_ONE });
    expect(gateway.output()).toContain("an earlier start stopped while creating the embedded database; creating it anew");
    expect(existsSync(creatingMarker(pglite))).toBe(false);
    expect(await chat(gateway)).toBeTruthy();
  }, TIMEOUT_MS);
});

describe("startEmbeddedDatabase", () => {
  const logger = createLogger("embedded-database-test", "silent");

  it("gives up after its ready timeout with a clear error, and leaves no child behind", async () => {
    const before = new Set(children());
    await expect(startEmbeddedDatabase({ dataDir: undefined, logger, readyTimeoutMs: 1 })).rejects.toThrow(
      /^the embedded database \(PGlite, .*main\.ts\) did not start within 0.001 s/,
    );
    expect(children().filter((pid) => !before.has(pid) && running(pid))).toEqual([]);
  });

  it("serves PGlite in memory to one connection, turns a second away at once, and removes its socket when stopped", async () => {
    const embedded = await startEmbeddedDatabase({ dataDir: undefined, logger });
    const connect = () => postgres({ path: embedded.socketPath, user: "postgres", database: "postgres", max: 1, onnotice: () => {} });
    const first = connect();
    const second = connect();
    try {
      expect(await first`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      // Closed on it (ECONNRESET here), not left waiting until its connect timeout.
      const refused = await second`SELECT 1`.then(() => undefined, (err: { code?: string }) => err);
      expect(refused?.code).toMatch(/^[A-Z_]+$/);
      expect(refused?.code).not.toBe("CONNECT_TIMEOUT");
      expect(await first`SELECT 2 AS two`).toEqual([{ two: 2 }]);
    } finally {
      await second.end();
      await first.end();
      await embedded.stop();
    }
    expect(existsSync(embedded.socketPath)).toBe(false);
  }, TIMEOUT_MS);
});

/** A process's resident memory in MB, from /proc. */
function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1]) / 1024;
}

/** A running process whose arguments `matches` accepts; undefined when there is none. */
function findProcess(matches: (args: string[], pid: number) => boolean): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (matches(readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0"), Number(entry))) return Number(entry);
    } catch {
      // It exited while we looked.
    }
  }
  return undefined;
}

/** One chat completion through the gateway; its answer's text. */
async function chat(gateway: GatewayProcess): Promise<string | null | undefined> {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  const answer = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
  return answer.choices[0]?.message.content;
}

/** A process's parent, from /proc. */
function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ")[1]);
}

/** This process's children, where /proc tells. */
function children(): number[] {
  const path = `/proc/${process.pid}/task/${process.pid}/children`;
  return existsSync(path) ? readFileSync(path, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : [];
}
