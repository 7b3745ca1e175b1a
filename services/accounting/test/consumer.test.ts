import { create, toBinary } from "@bufbuild/protobuf";
import { createLogger, MemoryBus, type Consumer } from "@gateway/common";
import { UsageEventSchema, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { eventually } from "@gateway/testing";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { Ledger, startLedgerConsumer, USAGE_SUBJECT } from "../src/index.js";
import { openLedgerDatabase, type LedgerDatabase } from "./support/ledger-database.js";
import { usageEvent } from "./support/usage-events.js";

const logger = createLogger("accounting-test", "silent");

let ledgerDb: LedgerDatabase;
let bus: MemoryBus;
let consumer: Consumer | undefined;
beforeAll(async () => {
  ledgerDb = await openLedgerDatabase();
});
afterAll(async () => {
  await ledgerDb?.close();
});
beforeEach(async () => {
  await ledgerDb.clear();
  bus = new MemoryBus();
});
afterEach(async () => {
  await consumer?.stop();
  await bus.close();
});

function publish(event: UsageEvent, messageId = event.requestId): Promise<void> {
  return bus.publish(USAGE_SUBJECT, messageId, toBinary(UsageEventSchema, event));
}

/** Waits until the ledger holds exactly `requestIds`; messages before the last are then settled too. */
async function expectLedger(requestIds: string[]): Promise<void> {
  const wanted = [...requestIds].sort();
  const last = requestIds.at(-1) ?? "";
  await eventually(`${last} in the ledger`, async () => ((await ledgerDb.requestIds()).includes(last) ? true : undefined));
  expect((await ledgerDb.requestIds()).sort()).toEqual(wanted);
}

test("books a replayed request once, even under a new message id", async () => {
  const event = usageEvent();
  const later = usageEvent();
  consumer = await startLedgerConsumer(bus, ledgerDb.ledger, logger);
  await publish(event);
  await publish(create(UsageEventSchema, { ...event, cost: 99 }), "replayed-after-dedupe-window");
  await publish(later);
  await expectLedger([event.requestId, later.requestId]);
  expect((await ledgerDb.ledger.list({ requestId: event.requestId }))[0]?.cost).toBe(event.cost);
});

test("redelivers a batch whose write failed, and books it then", async () => {
  class FlakyLedger extends Ledger {
    calls = 0;
    override async record(events: UsageEvent[]): Promise<number> {
      if (++this.calls === 1) throw new Error("connection reset");
      return super.record(events);
    }
  }
  const flaky = new FlakyLedger(ledgerDb.database.db);
  const event = usageEvent();
  // The in-process bus counts a message stored once it is handled, so this
  // resolves only after the consumer below has booked it.
  const published = publish(event);
  consumer = await startLedgerConsumer(bus, flaky, logger);
  await published;
  await expectLedger([event.requestId]);
  expect(flaky.calls).toBe(2);
});

test("skips what cannot be booked without holding up the events around it", async () => {
  const before = usageEvent();
  const nameless = usageEvent({ requestId: "" });
  const timeless = usageEvent();
  delete timeless.startTime;
  const after = usageEvent();
  const published = [
    publish(before),
    bus.publish(USAGE_SUBJECT, "garbage", new Uint8Array([0xff, 0xff, 0xff])),
    publish(nameless, "nameless"),
    publish(timeless),
    publish(after),
  ];
  consumer = await startLedgerConsumer(bus, ledgerDb.ledger, logger);
  await Promise.all(published);
  await expectLedger([before.requestId, after.requestId]);
});

test("drops only the events Postgres rejects from a batch, and books text with a NUL without it", async () => {
  const [first, last] = [usageEvent(), usageEvent()];
  const tooManyTokens = usageEvent({ promptTokens: 3_000_000_000 });
  // The end user and the tags are the client's own text.
  const nulInText = usageEvent({ keyAlias: "nul\u0000byte", endUser: "a\u0000b", requestTags: ["t\u0000ag", "a \\u0000 as text"] });
  const published = [first, tooManyTokens, nulInText, last].map((event) => publish(event));
  consumer = await startLedgerConsumer(bus, ledgerDb.ledger, logger);
  await Promise.all(published);
  await expectLedger([first.requestId, nulInText.requestId, last.requestId]);
  const [booked] = await ledgerDb.ledger.list({ requestId: nulInText.requestId });
  expect(booked).toMatchObject({ keyAlias: "nulbyte", endUser: "ab", requestTags: ["tag", "a \\u0000 as text"] });
});
