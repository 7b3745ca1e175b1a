import { fileURLToPath } from "node:url";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createLogger, MemoryBus, openDatabase, usageEventCodec, type Database } from "@gateway/common";
import { UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestDatabase, eventually, type TestDatabase } from "@gateway/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchRecovery, recoveredEvent } from "../src/batch-recovery.js";
import { BatchBookings } from "../src/db/batch-bookings.js";
import type { BookingRecovery } from "../src/db/schema.js";
import { UsagePublisher } from "../src/usage-publisher.js";

// Finished batches booked once across router replicas, on the real Postgres:
// a claim carries what its call books, the call confirms it once its usage
// event is written, and a claim never confirmed (its router died in between)
// is booked by a sweep, one usage event per lost call, on one replica only.

let testDatabase: TestDatabase;
let replicas: [Database, Database];

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  replicas = [await openDatabase({ url: testDatabase.url }), await openDatabase({ url: testDatabase.url })];
  await replicas[0].migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "router");
});

afterAll(async () => {
  for (const database of replicas ?? []) await database.close();
  await testDatabase?.drop();
});

const recovery = (requestId: string, promptTokens: number, cost: number): BookingRecovery => ({
  requestId,
  startMs: 1_800_000_000_123,
  keyHash: "hash-1",
  keyAlias: "batch-key",
  userId: "u1",
  teamId: "t1",
  endUser: "customer-1",
  requestTags: ["nightly"],
  modelGroup: "batch-model",
  deploymentId: "d1",
  provider: "openai",
  providerModel: "gpt-4o-mini",
  callType: "aretrieve_batch",
  promptTokens,
  completionTokens: 2 * promptTokens,
  cachedTokens: 0,
  cost,
});

/** Makes every unconfirmed claim of these batches look as old as a lost call's. */
async function lapse(batches: string[]): Promise<void> {
  await replicas[0].db.execute(sql`UPDATE router.booked_batches SET booked_at = now() - interval '11 minutes' WHERE batch IN ${sql.raw(`(${batches.map((b) => `'${b}'`).join(", ")})`)}`);
}

describe("batch bookings", () => {
  it("claims a batch once, and a confirmed claim is never booked again", async () => {
    const bookings = new BatchBookings(replicas[0].db);
    expect(await bookings.claimed(["d1/once", "d1/other"])).toEqual(new Set());
    expect(await bookings.claim("d1/once", recovery("call-1", 10, 0.1))).toBe(true);
    expect(await new BatchBookings(replicas[1].db).claim("d1/once", recovery("call-2", 10, 0.1))).toBe(false);
    expect(await bookings.claimed(["d1/once", "d1/other"])).toEqual(new Set(["d1/once"]));
    await bookings.confirm(["d1/once"]);
    await lapse(["d1/once"]);
    const booked: BookingRecovery[][] = [];
    expect(await bookings.sweep((calls) => booked.push(calls))).toBe(0);
    expect(booked).toEqual([]);
  });

  it("gives back the claims of a call that failed before its usage event carried them, for a later read to book", async () => {
    const bookings = new BatchBookings(replicas[0].db);
    await bookings.claim("d1/failed-call", recovery("failed-call", 3, 0.01));
    await bookings.claim("d1/confirmed", recovery("other-call", 3, 0.01));
    await bookings.confirm(["d1/confirmed"]);
    await bookings.release(["d1/failed-call", "d1/confirmed"]);
    // Only the unconfirmed claim goes; a later read takes it afresh.
    expect(await bookings.claimed(["d1/failed-call", "d1/confirmed"])).toEqual(new Set(["d1/confirmed"]));
    expect(await bookings.claim("d1/failed-call", recovery("later-call", 3, 0.01))).toBe(true);
  });

  it("sweeps a lost call's lapsed claims into one usage event, with the call's request id and start; fresh claims wait", async () => {
    const bookings = new BatchBookings(replicas[0].db);
    await bookings.claim("d1/lost-a", recovery("lost-call", 100, 0.25));
    await bookings.claim("d1/lost-b", recovery("lost-call", 40, 0.5));
    await bookings.claim("d1/fresh", recovery("live-call", 7, 0.01));
    await lapse(["d1/lost-a", "d1/lost-b"]);
    const booked: BookingRecovery[][] = [];
    expect(await bookings.sweep((calls) => booked.push(calls))).toBe(2);
    expect(booked).toHaveLength(1);
    const event = recoveredEvent(booked[0]!, true);
    expect(event).toMatchObject({
      requestId: "lost-call",
      keyHash: "hash-1",
      teamId: "t1",
      endUser: "customer-1",
      modelGroup: "batch-model",
      deploymentId: "d1",
      callType: "aretrieve_batch",
      promptTokens: 140,
      completionTokens: 280,
      totalTokens: 420,
      status: UsageStatus.SUCCESS,
    });
    expect(event.cost).toBeCloseTo(0.75, 12);
    expect(timestampMs({ $typeName: "google.protobuf.Timestamp", seconds: event.startTime!.seconds!, nanos: event.startTime!.nanos! })).toBe(1_800_000_000_123);
    expect(recoveredEvent(booked[0]!, false).endUser).toBe("");
    // Booked: the next sweep finds nothing; the live call's claim is not its to take.
    expect(await bookings.sweep(() => booked.push([]))).toBe(0);
    expect(booked).toHaveLength(1);
  });

  it("books each lost call once when replicas sweep at the same time", async () => {
    const batches = Array.from({ length: 30 }, (_, i) => `d1/race-${i}`);
    const bookings = replicas.map((database) => new BatchBookings(database.db));
    for (const [i, batch] of batches.entries()) await bookings[0]!.claim(batch, recovery(`race-call-${i % 10}`, 1, 0.001));
    await lapse(batches);
    const booked: string[] = [];
    const swept = await Promise.all(bookings.flatMap((b) => [b.sweep((calls) => booked.push(calls[0]!.requestId)), b.sweep((calls) => booked.push(calls[0]!.requestId))]));
    expect(swept.reduce((a, b) => a + b, 0)).toBe(30);
    expect(booked.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `race-call-${i}`).sort());
  });

  it("publishes a lost call's booking on the bus as its usage event, once a sweep finds it", async () => {
    const bookings = new BatchBookings(replicas[0].db);
    await bookings.claim("d1/published", recovery("published-call", 12, 0.04));
    await lapse(["d1/published"]);
    const bus = new MemoryBus();
    const events: string[] = [];
    await bus.consume({ durable: "test", subject: "usage.v1", maxBatch: 10 }, async (batch) => {
      for (const { data } of batch) {
        const event = usageEventCodec.decode(data);
        events.push(`${event.requestId} ${event.promptTokens} ${event.cost} ${event.endUser}`);
      }
    });
    const publisher = new UsagePublisher(bus, createLogger("test", "silent"), { bookEndUsers: false });
    const sweeper = new BatchRecovery(bookings, publisher, createLogger("test", "silent"));
    await sweeper.sweep();
    await publisher.flush();
    await sweeper.stop();
    publisher.close();
    await eventually("the event to arrive", async () => (events.length > 0 ? true : undefined));
    expect(events).toEqual(["published-call 12 0.04 "]);
  });
});
