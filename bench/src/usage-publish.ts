// Usage publish cost: process CPU per `NatsBus.publish` (one usage event to
// JetStream, resolved on its PubAck), and socket writes per publish.
//
// - loaded: WINDOW publishes kept in flight until EVENTS are stored; each
//   finished publish starts the next at once ("chained"), or from a
//   setImmediate ("spread"), the way requests finishing in different I/O
//   callbacks publish.
// - paced: one publish per millisecond (at most ~1000/s) for PACED_MS, the
//   CPU of the same pacing without publishing taken off. Every publish then
//   has a turn of the event loop to itself; expect noisy figures on a busy
//   machine.
//
// Each run gets a fresh stream on the shared nats-server (127.0.0.1:4222).
// Run: npx tsx bench/src/usage-publish.ts  (EVENTS=50000 WINDOW=500 PACED_MS=4000 by default).
import { randomUUID } from "node:crypto";
import { Socket } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestBus, type TestBus } from "@gateway/testing";

const EVENTS = Number(process.env["EVENTS"] ?? 50_000);
const WINDOW = Number(process.env["WINDOW"] ?? 500);
const PACED_MS = Number(process.env["PACED_MS"] ?? 4000);
const SUBJECT = "usage.v1";

let socketWrites = 0;
const write = Socket.prototype.write;
Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
  socketWrites++;
  return write.apply(this, args);
} as Socket["write"];

/** A usage event as the router publishes it (protobuf); every publish gets its own id. */
function usageEvent(): Uint8Array {
  const now = Date.now();
  return toBinary(
    UsageEventSchema,
    create(UsageEventSchema, {
      requestId: randomUUID(),
      keyHash: "0".repeat(64),
      modelGroup: "fast-model",
      deploymentId: "deployment-0",
      provider: "openai",
      providerModel: "gpt-4o-mini",
      promptTokens: 100,
      completionTokens: 20,
      totalTokens: 120,
      cost: 0.0001,
      startTime: timestampFromMs(now - 300),
      endTime: timestampFromMs(now),
      latencyMs: 300,
      status: UsageStatus.SUCCESS,
      httpStatus: 200,
      callType: "acompletion",
    }),
  );
}

interface Measured {
  publishes: number;
  cpu: NodeJS.CpuUsage;
  writes: number;
  elapsedMs: number;
}

async function measure(work: () => Promise<number>): Promise<Measured> {
  const writesBefore = socketWrites;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const publishes = await work();
  return { publishes, cpu: process.cpuUsage(cpuBefore), writes: socketWrites - writesBefore, elapsedMs: performance.now() - started };
}

function report(name: string, { publishes, cpu, writes, elapsedMs }: Measured): void {
  const per = (n: number) => (n / publishes).toFixed(1);
  console.log(
    `${name}: ${publishes} publishes, ${per(cpu.user + cpu.system)} µs CPU per publish (user ${per(cpu.user)}, system ${per(cpu.system)}), ` +
      `${(writes / publishes).toFixed(3)} socket writes per publish, ${Math.round(publishes / (elapsedMs / 1000))} publishes/s`,
  );
}

function loaded(testBus: TestBus, spread: boolean): Promise<number> {
  const data = usageEvent();
  const ids = Array.from({ length: EVENTS }, () => randomUUID());
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++) {
      if (spread) await new Promise((resolve) => setImmediate(resolve));
      await testBus.bus.publish(SUBJECT, ids[i]!, data);
    }
  };
  return Promise.all(Array.from({ length: WINDOW }, worker)).then(() => ids.length);
}

async function paced(testBus: TestBus | undefined): Promise<number> {
  const data = usageEvent();
  const publishing = new Set<Promise<void>>();
  let publishes = 0;
  await new Promise<void>((resolve) => {
    const until = performance.now() + PACED_MS;
    const tick = setInterval(() => {
      const id = randomUUID();
      if (testBus) {
        const done: Promise<void> = testBus.bus.publish(SUBJECT, id, data).finally(() => publishing.delete(done));
        publishing.add(done);
      }
      publishes++;
      if (performance.now() >= until) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await Promise.all(publishing);
  return publishes;
}

async function withTestBus(run: (testBus: TestBus) => Promise<void>): Promise<void> {
  const testBus = await createTestBus();
  try {
    // Warm up the JIT and the connection first.
    for (let i = 0; i < 2000; i++) await testBus.bus.publish(SUBJECT, randomUUID(), usageEvent());
    await run(testBus);
  } finally {
    await testBus.close();
  }
}

async function main(): Promise<void> {
  await withTestBus(async (testBus) => report(`loaded, ${WINDOW} in flight, chained`, await measure(() => loaded(testBus, false))));
  await withTestBus(async (testBus) => report(`loaded, ${WINDOW} in flight, spread `, await measure(() => loaded(testBus, true))));
  await withTestBus(async (testBus) => {
    const pacing = await measure(() => paced(undefined));
    const publishing = await measure(() => paced(testBus));
    const cpu = { user: publishing.cpu.user - pacing.cpu.user, system: publishing.cpu.system - pacing.cpu.system };
    report("paced, one per millisecond        ", { ...publishing, cpu });
  });
}

await main();
