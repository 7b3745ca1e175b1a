import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestBus, createTestDatabase } from "@gateway/testing";
import { measure, type Measurement, type Target } from "./measure.js";
import { buildGateway, buildReference, childrenOf, run, type Running } from "./processes.js";

// The gateway against the fake provider it fronts, measured in one run with
// one load tool: requests per second at 1 and 50 connections, latency added
// at one connection, streaming time to first byte, gateway CPU per request
// and memory. Run with `npm run bench`; `BENCH_ONLY=split npm run bench`
// measures the provider and the targets whose names contain "split".

const MASTER = "sk-bench-master-key";
// What `npm start` runs: the bundle `npm run build` writes.
const GATEWAY = "services/gateway/dist/main.js";
const dir = mkdtempSync(join(tmpdir(), "gateway-bench-"));
const started: Running[] = [];
/** What main made outside its processes (the test database and stream), undone last first. */
const teardown: (() => Promise<void>)[] = [];
const only = process.env["BENCH_ONLY"] || undefined;
const wanted = (name: string) => only === undefined || name.includes(only);

async function start(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const r = await run(entry, args, env);
  started.push(r);
  return r;
}

async function generateKey(edge: string): Promise<string> {
  const res = await fetch(`${edge}/key/generate`, {
    method: "POST",
    headers: { authorization: `Bearer ${MASTER}` },
    // Limits high enough never to refuse, so every check and reservation runs.
    body: JSON.stringify({ max_budget: 1e6, rpm_limit: 1e8, tpm_limit: 1e9, max_parallel_requests: 10_000 }),
  });
  return ((await res.json()) as { key: string }).key;
}

function row(m: Measurement, direct: Measurement): string {
  const f = (n: number | undefined, digits: number) => (n === undefined ? "–" : n.toFixed(digits));
  const database = m.databaseCpuMsPerRequest === undefined ? "–" : `${f(m.databaseCpuMsPerRequest, 3)} ms/req, ${f(m.databaseRssMb, 0)} MB`;
  // A slow spell of the machine during the provider's own round can make the difference negative.
  const added = (a: number, b: number) => (m === direct ? "–" : `${a >= b ? "+" : "−"}${Math.abs(a - b).toFixed(3)}`);
  return `| ${m.name} | ${f(m.rps1, 0)} | ${f(m.rps50, 0)} (${((m.rps50 / direct.rps50) * 100).toFixed(0)}%) | ${f(m.p50Ms, 3)} (${added(m.p50Ms, direct.p50Ms)}) | ${f(m.p99Ms, 3)} (${added(m.p99Ms, direct.p99Ms)}) | ${f(m.ttfbMs, 3)} (${added(m.ttfbMs, direct.ttfbMs)}) | ${f(m.cpuMsPerRequest, 3)} | ${f(m.rssMb, 0)} | ${database} |`;
}

/** Each field's median over the rounds: a slow spell of this shared machine moves one round, not the row. */
function median(rounds: Measurement[]): Measurement {
  const field = (pick: (m: Measurement) => number | undefined) => {
    const known = rounds.map(pick).filter((v): v is number => v !== undefined).sort((x, y) => x - y);
    return known[Math.floor(known.length / 2)];
  };
  return {
    name: rounds[0]!.name,
    rps1: field((m) => m.rps1)!,
    rps50: field((m) => m.rps50)!,
    p50Ms: field((m) => m.p50Ms)!,
    p99Ms: field((m) => m.p99Ms)!,
    ttfbMs: field((m) => m.ttfbMs)!,
    cpuMsPerRequest: field((m) => m.cpuMsPerRequest),
    rssMb: field((m) => m.rssMb),
    databaseCpuMsPerRequest: field((m) => m.databaseCpuMsPerRequest),
    databaseRssMb: field((m) => m.databaseRssMb),
  };
}

// Every target runs for the whole bench, and the rounds go through them in
// turn, so each target is measured at several moments of the run.
const ROUNDS = 3;

async function main(): Promise<void> {
  const provider = await start("services/fake-provider/src/main.ts", ["--port", "0"]);
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: sk-fake }
general_settings:
  master_key: ${MASTER}
`,
  );
  const targets: Target[] = [{ name: "fake provider, direct", url: provider.url, apiKey: "sk-fake", pids: [] }];

  // The floor: what any Node proxy in front of the provider costs here.
  const REFERENCE = "reference: minimal Node proxy";
  if (wanted(REFERENCE)) {
    const reference = await start(buildReference(), [provider.url]);
    targets.push({ name: REFERENCE, url: reference.url, apiKey: "sk-any", pids: [reference.child.pid!] });
  }

  buildGateway();
  const EMBEDDED = "one process, embedded PGlite (`npm start`)";
  if (wanted(EMBEDDED)) {
    const pglite = await start(GATEWAY, ["--config", config, "--port", "0"], { GATEWAY_DATA_DIR: join(dir, "data") });
    const [embedded] = childrenOf(pglite.child.pid!);
    targets.push({ name: EMBEDDED, url: pglite.url, apiKey: MASTER, pids: [pglite.child.pid!], databasePid: embedded });
  }

  const database = await createTestDatabase();
  teardown.push(() => database.drop());
  const bus = await createTestBus();
  teardown.push(() => bus.close());
  await bus.bus.close();
  const env = { DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix };
  const MASTER_KEY_ROW = "one process, Postgres + NATS (master key)";
  const VIRTUAL_KEY_ROW = "one process, Postgres + NATS (virtual key, all limits)";
  if (wanted(MASTER_KEY_ROW) || wanted(VIRTUAL_KEY_ROW)) {
    const one = await start(GATEWAY, ["--config", config, "--port", "0"], { ...env, GATEWAY_DATA_DIR: join(dir, "data-pg") });
    if (wanted(MASTER_KEY_ROW)) targets.push({ name: MASTER_KEY_ROW, url: one.url, apiKey: MASTER, pids: [one.child.pid!] });
    if (wanted(VIRTUAL_KEY_ROW)) targets.push({ name: VIRTUAL_KEY_ROW, url: one.url, apiKey: await generateKey(one.url), pids: [one.child.pid!] });
  }
  const service = (name: string, extra: NodeJS.ProcessEnv = {}) =>
    start(GATEWAY, ["--config", config, "--port", "0", "--service", name], { ...env, GATEWAY_DATA_DIR: join(dir, `data-${name}`), ...extra });
  const SPLIT = "split services over Connect, Postgres + NATS";
  if (wanted(SPLIT)) {
    const [keys, router, accounting] = [await service("keys"), await service("router"), await service("accounting")];
    const edge = await service("edge", { KEYS_URL: keys.url, ROUTER_URL: router.url, ACCOUNTING_URL: accounting.url });
    targets.push({ name: SPLIT, url: edge.url, apiKey: MASTER, pids: [edge, keys, router, accounting].map((s) => s.child.pid!) });
  }

  const rounds: Measurement[][] = targets.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, target] of targets.entries()) rounds[i]!.push(await measure(target));
  }
  const results = rounds.map(median);
  const [first] = results;
  console.log(`\n${new Date().toISOString().slice(0, 10)}, ${process.version}, loopback, non-streaming unless noted, median of ${ROUNDS} rounds\n`);
  console.log("| target | req/s, 1 conn | req/s, 50 conn (of direct) | p50 ms, 1 conn (added) | p99 ms, 1 conn (added) | stream TTFB p50 ms (added) | gateway CPU ms/req | gateway RSS MB | embedded database |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const m of results) console.log(row(m, first!));
}

let cleaning: Promise<void> | undefined;

/** Stops the processes and drops the database and stream; every caller waits for the one cleanup. */
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    // The gateways first: they use the database and the stream until they stop.
    for (const s of started.splice(0).reverse()) await s.stop();
    for (const step of teardown.splice(0).reverse()) await step();
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}

// Stopped by Ctrl-C or a kill, the bench still cleans up. The signal can come
// twice (to the process group and relayed by tsx), so the listener stays.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void cleanUp().finally(() => process.exit(130)));
}

main()
  .catch((err: unknown) => {
    if (cleaning) return; // interrupted: the load failed as the processes stopped
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanUp);
