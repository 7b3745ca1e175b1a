import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestBus, createTestDatabase } from "@gateway/testing";
import { measure, type Measurement, type Target } from "./measure.js";
import { buildGateway, childrenOf, run, type Running } from "./processes.js";

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
  const added = (a: number, b: number) => (m === direct ? "–" : `+${(a - b).toFixed(3)}`);
  return `| ${m.name} | ${f(m.rps1, 0)} | ${f(m.rps50, 0)} (${((m.rps50 / direct.rps50) * 100).toFixed(0)}%) | ${f(m.p50Ms, 3)} (${added(m.p50Ms, direct.p50Ms)}) | ${f(m.p99Ms, 3)} (${added(m.p99Ms, direct.p99Ms)}) | ${f(m.ttfbMs, 3)} (${added(m.ttfbMs, direct.ttfbMs)}) | ${f(m.cpuMsPerRequest, 3)} | ${f(m.rssMb, 0)} | ${database} |`;
}

/** The better of two measurements of the same target, field by field. */
function fastest(a: Measurement, b: Measurement): Measurement {
  return {
    ...a,
    rps1: Math.max(a.rps1, b.rps1),
    rps50: Math.max(a.rps50, b.rps50),
    p50Ms: Math.min(a.p50Ms, b.p50Ms),
    p99Ms: Math.min(a.p99Ms, b.p99Ms),
    ttfbMs: Math.min(a.ttfbMs, b.ttfbMs),
  };
}

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
  const results: Measurement[] = [];
  const direct: Target = { name: "fake provider, direct", url: provider.url, apiKey: "sk-fake", pids: [] };
  results.push(await measure(direct));

  // The floor: what any Node proxy in front of the provider costs here.
  const REFERENCE = "reference: minimal Node proxy";
  if (wanted(REFERENCE)) {
    const reference = await start("bench/src/reference-proxy.ts", [provider.url]);
    results.push(await measure({ name: REFERENCE, url: reference.url, apiKey: "sk-any", pids: [reference.child.pid!] }));
    await reference.stop();
  }

  buildGateway();
  const EMBEDDED = "one process, embedded PGlite (`npm start`)";
  if (wanted(EMBEDDED)) {
    const pglite = await start(GATEWAY, ["--config", config, "--port", "0"], { GATEWAY_DATA_DIR: join(dir, "data") });
    const [embedded] = childrenOf(pglite.child.pid!);
    results.push(await measure({ name: EMBEDDED, url: pglite.url, apiKey: MASTER, pids: [pglite.child.pid!], databasePid: embedded }));
    await pglite.stop();
  }

  const database = await createTestDatabase();
  const bus = await createTestBus();
  await bus.bus.close();
  try {
    const env = { DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix };
    const MASTER_KEY_ROW = "one process, Postgres + NATS (master key)";
    const VIRTUAL_KEY_ROW = "one process, Postgres + NATS (virtual key, all limits)";
    if (wanted(MASTER_KEY_ROW) || wanted(VIRTUAL_KEY_ROW)) {
      const one = await start(GATEWAY, ["--config", config, "--port", "0"], { ...env, GATEWAY_DATA_DIR: join(dir, "data-pg") });
      if (wanted(MASTER_KEY_ROW)) results.push(await measure({ name: MASTER_KEY_ROW, url: one.url, apiKey: MASTER, pids: [one.child.pid!] }));
      if (wanted(VIRTUAL_KEY_ROW)) results.push(await measure({ name: VIRTUAL_KEY_ROW, url: one.url, apiKey: await generateKey(one.url), pids: [one.child.pid!] }));
      await one.stop();
    }
    const service = (name: string, extra: NodeJS.ProcessEnv = {}) =>
      start(GATEWAY, ["--config", config, "--port", "0", "--service", name], { ...env, GATEWAY_DATA_DIR: join(dir, `data-${name}`), ...extra });
    const SPLIT = "split services over Connect, Postgres + NATS";
    if (wanted(SPLIT)) {
      const [keys, router, accounting] = [await service("keys"), await service("router"), await service("accounting")];
      const edge = await service("edge", { KEYS_URL: keys.url, ROUTER_URL: router.url, ACCOUNTING_URL: accounting.url });
      const pids = [edge, keys, router, accounting].map((s) => s.child.pid!);
      results.push(await measure({ name: SPLIT, url: edge.url, apiKey: MASTER, pids }));
      for (const s of [edge, keys, router, accounting]) await s.stop();
    }
  } finally {
    await bus.close();
    await database.drop();
  }

  // The provider again at the end: a slow spell of this shared machine
  // during the first run would make every row look better than it is.
  results[0] = fastest(results[0]!, await measure(direct));
  const [first] = results;
  console.log(`\n${new Date().toISOString().slice(0, 10)}, ${process.version}, loopback, non-streaming unless noted\n`);
  console.log("| target | req/s, 1 conn | req/s, 50 conn (of direct) | p50 ms, 1 conn (added) | p99 ms, 1 conn (added) | stream TTFB p50 ms (added) | gateway CPU ms/req | gateway RSS MB | embedded database |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const m of results) console.log(row(m, first!));
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const s of started.reverse()) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
