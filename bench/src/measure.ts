import { Agent, request } from "undici";
import { cpuMs, rssMb } from "./processes.js";

export interface Target {
  name: string;
  url: string;
  apiKey: string;
  /** Gateway processes whose CPU and memory are counted (none for the provider itself). */
  pids: number[];
  /** The embedded database's process, counted on its own: it is the database, not the gateway. */
  databasePid?: number | undefined;
}

export interface Measurement {
  name: string;
  rps1: number;
  rps50: number;
  p50Ms: number;
  p99Ms: number;
  ttfbMs: number;
  cpuMsPerRequest: number | undefined;
  rssMb: number | undefined;
  /** The embedded database's CPU per request and memory, when there is one. */
  databaseCpuMsPerRequest: number | undefined;
  databaseRssMb: number | undefined;
}

const BODY = JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "Say hello from my homelab." }] });
const STREAM_BODY = JSON.stringify({ model: "fast-model", stream: true, messages: [{ role: "user", content: "Say hello from my homelab." }] });
// Per round; the bench measures each target in several rounds.
const SEQUENTIAL = 1000;
const WARMUP = 500;
const THROUGHPUT_SECONDS = 4;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

/** One connection, one request at a time: latency as the client sees it, in ms. */
async function sequential(target: Target, body: string, untilFirstByte: boolean, count: number): Promise<number[]> {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const times: number[] = [];
  const headers = { authorization: `Bearer ${target.apiKey}`, "content-type": "application/json" };
  for (let i = 0; i < count + WARMUP; i++) {
    const start = process.hrtime.bigint();
    const res = await request(`${target.url}/v1/chat/completions`, { method: "POST", headers, body, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`${target.name}: status ${res.statusCode}: ${await res.body.text()}`);
    let firstByte = 0;
    for await (const _chunk of res.body) firstByte ||= Number(process.hrtime.bigint() - start) / 1e6;
    const elapsed = untilFirstByte ? firstByte : Number(process.hrtime.bigint() - start) / 1e6;
    if (i >= WARMUP) times.push(elapsed);
  }
  await agent.close();
  return times.sort((a, b) => a - b);
}

/** `connections` clients, each sending one request after another for a fixed time; requests per second. */
async function load(target: Target, connections: number): Promise<{ rps: number; requests: number }> {
  const agent = new Agent({ connections, keepAliveTimeout: 30_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const headers = { authorization: `Bearer ${target.apiKey}`, "content-type": "application/json" };
  const until = Date.now() + THROUGHPUT_SECONDS * 1000;
  let requests = 0;
  const worker = async () => {
    while (Date.now() < until) {
      const res = await request(`${target.url}/v1/chat/completions`, { method: "POST", headers, body: BODY, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${target.name}: status ${res.statusCode}`);
      requests++;
    }
  };
  const start = Date.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const seconds = (Date.now() - start) / 1000;
  await agent.close();
  return { rps: requests / seconds, requests };
}

interface Throughput {
  rps: number;
  requests: number;
  cpu: number;
  rss: number;
  databaseCpu: number;
  databaseRss: number;
}

// A process that used at most this much CPU in a step has finished what a load left it.
const SETTLE_STEP_MS = 250;
const IDLE_CPU_MS = 10;
const SETTLE_MAX_MS = 15_000;

/**
 * Waits until the processes have done what the load left them (the ledger
 * booking its last batches), so that work counts for the load that caused
 * it and not in the next target's figures.
 */
async function settled(pids: number[]): Promise<void> {
  const used = () => pids.reduce((total, pid) => total + cpuMs(pid), 0);
  let last = used();
  for (let waited = 0; waited < SETTLE_MAX_MS; waited += SETTLE_STEP_MS) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_STEP_MS));
    const now = used();
    if (now - last <= IDLE_CPU_MS) return;
    last = now;
  }
}

async function throughput(target: Target, connections: number): Promise<Throughput> {
  const sum = () => target.pids.reduce((total, pid) => total + cpuMs(pid), 0);
  const database = target.databasePid;
  let rss = 0;
  let databaseRss = 0;
  const sampler = setInterval(() => {
    rss = Math.max(rss, target.pids.reduce((total, pid) => total + rssMb(pid), 0));
    if (database) databaseRss = Math.max(databaseRss, rssMb(database));
  }, 250);
  const before = sum();
  const databaseBefore = database ? cpuMs(database) : 0;
  const { rps, requests } = await load(target, connections).finally(() => clearInterval(sampler));
  await settled(database ? [...target.pids, database] : target.pids);
  return { rps, requests, cpu: sum() - before, rss, databaseCpu: database ? cpuMs(database) - databaseBefore : 0, databaseRss };
}

export async function measure(target: Target): Promise<Measurement> {
  const latencies = await sequential(target, BODY, false, SEQUENTIAL);
  const ttfb = await sequential(target, STREAM_BODY, true, SEQUENTIAL / 3);
  const one = await throughput(target, 1);
  const fifty = await throughput(target, 50);
  const counted = target.pids.length > 0;
  return {
    name: target.name,
    rps1: one.rps,
    rps50: fifty.rps,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    ttfbMs: percentile(ttfb, 0.5),
    cpuMsPerRequest: counted ? fifty.cpu / fifty.requests : undefined,
    rssMb: counted ? fifty.rss : undefined,
    databaseCpuMsPerRequest: target.databasePid ? fifty.databaseCpu / fifty.requests : undefined,
    databaseRssMb: target.databasePid ? fifty.databaseRss : undefined,
  };
}
