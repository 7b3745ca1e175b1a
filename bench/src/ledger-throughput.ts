// Ledger throughput: how many usage events per second the accounting
// consumer books from JetStream into Postgres on this machine.
//
// It fills a fresh JetStream stream with EVENTS usage events (as the router
// publishes them: protobuf, message id = request id), then starts the ledger
// consumer and times it until every event is a row, and the daily totals add
// up. Run: npm run bench:ledger -w bench  (EVENTS=200000 to change the count).
import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Ledger, migrateAccounting, startLedgerConsumer, USAGE_SUBJECT } from "@gateway/accounting";
import { createLogger, openDatabase } from "@gateway/common";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestBus, createTestDatabase } from "@gateway/testing";
import { sql } from "drizzle-orm";

const EVENTS = Number(process.env["EVENTS"] ?? 200_000);
const KEYS = 1000;
const MODELS = ["fast-model", "smart-model", "embedder", "vision", "cheap"];
const PUBLISH_WINDOW = 2000;

function usageEvent(i: number, nowMs: number): Uint8Array {
  const latency = 200 + (i % 800);
  return toBinary(
    UsageEventSchema,
    create(UsageEventSchema, {
      requestId: randomUUID(),
      keyHash: (i % KEYS).toString(16).padStart(64, "0"),
      keyAlias: `key-${i % KEYS}`,
      userId: `user-${i % 50}`,
      teamId: `team-${i % 7}`,
      modelGroup: MODELS[i % MODELS.length] ?? "fast-model",
      deploymentId: `deployment-${i % 3}`,
      provider: "openai",
      providerModel: "gpt-4o-mini",
      promptTokens: 100 + (i % 50),
      completionTokens: 20 + (i % 30),
      totalTokens: 120 + (i % 50) + (i % 30),
      cost: 0.0001 * (1 + (i % 10)),
      // Spread over today and yesterday, so batches span two partitions.
      startTime: timestampFromMs(nowMs - (i % 2) * 86_400_000 - latency),
      endTime: timestampFromMs(nowMs - (i % 2) * 86_400_000),
      latencyMs: latency,
      status: i % 20 === 0 ? UsageStatus.FAILURE : UsageStatus.SUCCESS,
      errorType: i % 20 === 0 ? "rate_limit_error" : "",
      httpStatus: i % 20 === 0 ? 429 : 200,
      stream: i % 2 === 0,
      callType: "acompletion",
    }),
  );
}

async function main(): Promise<void> {
  const testDatabase = await createTestDatabase();
  const testBus = await createTestBus();
  const database = await openDatabase({ url: testDatabase.url, max: 4 });
  try {
    await migrateAccounting(database);
    const nowMs = Date.now();

    let started = performance.now();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < EVENTS; i++) {
      const data = usageEvent(i, nowMs);
      const p = testBus.bus.publish(USAGE_SUBJECT, `bench-${i}`, data).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const publishSeconds = (performance.now() - started) / 1000;
    console.log(`published ${EVENTS} events to JetStream in ${publishSeconds.toFixed(2)} s: ${Math.round(EVENTS / publishSeconds)} events/s`);

    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    let booked = 0;
    let recordMs = 0;
    let batches = 0;
    class CountingLedger extends Ledger {
      override async record(events: Parameters<Ledger["record"]>[0]): Promise<number> {
        const t = performance.now();
        const n = await super.record(events);
        recordMs += performance.now() - t;
        batches++;
        booked += n;
        if (booked >= EVENTS) done();
        return n;
      }
    }
    const counting = new CountingLedger(database.db);
    started = performance.now();
    const consumer = await startLedgerConsumer(testBus.bus, counting, createLogger("bench", "warn"));
    await finished;
    const consumeSeconds = (performance.now() - started) / 1000;
    await consumer.stop();
    console.log(`${batches} batches; ${(recordMs / 1000).toFixed(2)} s in ledger writes, summed over the batches in flight`);

    const [rows] = (await database.db.execute(sql`SELECT count(*)::int AS n FROM accounting.spend_logs`)) as unknown as { n: number }[];
    const [totals] = (await database.db.execute(sql`SELECT sum(requests)::int AS n FROM accounting.daily_spend`)) as unknown as { n: number }[];
    if (rows?.n !== EVENTS || totals?.n !== EVENTS) throw new Error(`ledger has ${rows?.n} rows and ${totals?.n} counted requests, expected ${EVENTS}`);
    console.log(`booked ${EVENTS} events into the ledger in ${consumeSeconds.toFixed(2)} s: ${Math.round(EVENTS / consumeSeconds)} events/s`);
  } finally {
    await database.close();
    await testBus.close();
    await testDatabase.drop();
  }
}

await main();
