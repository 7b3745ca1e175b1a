import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createLogger, NatsBus, usageEventCodec } from "@gateway/common";
import { UsageEventSchema } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { startThrowawayNats, type ThrowawayNats } from "@gateway/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { UsagePublisher } from "../src/index.js";
import { LEDGER_MOST_TOKENS } from "../src/usage-publisher.js";

const logger = createLogger("publisher-test", "silent");
const STREAM = "USAGE_OUTBOX_TEST";

let nats: ThrowawayNats;
let bus: NatsBus;
let dir: string;
const publishers: UsagePublisher[] = [];

beforeAll(async () => {
  nats = await startThrowawayNats();
  bus = await NatsBus.connect({ url: nats.url, stream: STREAM, prefix: "outbox" });
});
afterAll(async () => {
  await bus?.close();
  await nats?.close();
});
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "gateway-outbox-"));
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.purge(STREAM);
  await nc.close();
});
afterEach(async () => {
  for (const publisher of publishers.splice(0)) publisher.close();
  rmSync(dir, { recursive: true, force: true });
});

function publisher(maxOutboxBytes?: number): UsagePublisher {
  const p = new UsagePublisher(bus, logger, { outboxDir: dir, ...(maxOutboxBytes !== undefined && { maxOutboxBytes }) });
  publishers.push(p);
  return p;
}

function events(n: number, tag: string) {
  return Array.from({ length: n }, (_, i) => create(UsageEventSchema, { requestId: `${tag}-${i}`, cost: i, startTime: timestampFromMs(Date.now()) }));
}

async function stored(): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAM)).state.messages;
  } finally {
    await nc.close();
  }
}

const segments = () => readdirSync(dir).filter((name) => name.endsWith(".log"));

test("keeps unacknowledged events on disk while NATS is down, and publishes them once it is back", async () => {
  const p = publisher();
  await nats.stop();
  const onDisk = () => segments().reduce((bytes, name) => bytes + statSync(join(dir, name)).size, 0);
  for (const event of events(20, "outage")) {
    const before = onDisk();
    p.publish(event);
    // On disk as publish returns, before the answer it records can leave.
    expect(onDisk()).toBeGreaterThan(before);
  }
  expect(segments()).toHaveLength(1);
  // On disk, none of them would be lost with the process.
  expect(p.unsaved).toBe(0);
  await nats.start();
  await p.flush();
  expect(await stored()).toBe(20);
  p.close();
  // Everything was acknowledged, so nothing is left to replay.
  expect(segments()).toEqual([]);
});

test("a router stopped before the ack leaves its events in the outbox; the next one publishes them, each once", async () => {
  const first = publisher();
  const acked = events(5, "acked");
  for (const event of acked) first.publish(event);
  await first.flush();
  await nats.stop();
  for (const event of events(10, "unacked")) first.publish(event);
  // The router dies: no flush, its retries end, its file stays.
  first.close();
  expect(segments()).toHaveLength(1);
  await nats.start();
  // The replay sends the 5 acknowledged events again too; JetStream drops them as duplicates.
  const next = publisher();
  expect(next.inFlight).toBe(15);
  await next.flush();
  expect(await stored()).toBe(15);
});

test("bounds the outbox on disk and still delivers what did not fit", async () => {
  const p = publisher(400);
  await nats.stop();
  for (const event of events(30, "bounded")) p.publish(event);
  const onDisk = segments().map((name) => join(dir, name));
  expect(onDisk).toHaveLength(1);
  expect(statSync(onDisk[0]!).size).toBeLessThanOrEqual(400);
  await nats.start();
  await p.flush();
  expect(await stored()).toBe(30);
});

test("counts the events no outbox holds as unsaved until they are published", async () => {
  const memoryOnly = new UsagePublisher(bus, logger, {});
  publishers.push(memoryOnly);
  await nats.stop();
  for (const event of events(5, "memory")) memoryOnly.publish(event);
  expect(memoryOnly.unsaved).toBe(5);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(memoryOnly.unsaved).toBe(5);
  await nats.start();
  await memoryOnly.flush();
  expect(memoryOnly.unsaved).toBe(0);
  expect(await stored()).toBe(5);
});

test("caps token counts at what a ledger row holds, and keeps the cost whole", async () => {
  // What finished batches booked by one call may sum to: past the ledger's
  // integers, Postgres refused the row and its cost was lost with it.
  const p = publisher();
  const promptTokens = 9 * 2 ** 28;
  p.publish(create(UsageEventSchema, { requestId: "big-batch", promptTokens, completionTokens: 5, totalTokens: promptTokens + 5, cacheReadInputTokens: promptTokens, cost: 1234.5 }));
  await p.flush();
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(STREAM);
    const published = usageEventCodec.decode((await jsm.streams.getMessage(STREAM, { seq: state.last_seq }))!.data);
    expect(published).toMatchObject({ requestId: "big-batch", promptTokens: LEDGER_MOST_TOKENS, completionTokens: 5, totalTokens: LEDGER_MOST_TOKENS, cacheReadInputTokens: LEDGER_MOST_TOKENS, cost: 1234.5 });
  } finally {
    await nc.close();
  }
});
