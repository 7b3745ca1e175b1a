import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { openLedgerDatabase, type LedgerDatabase } from "./support/ledger-database.js";
import { usageEvent } from "./support/usage-events.js";

let ledgerDb: LedgerDatabase;
beforeAll(async () => {
  ledgerDb = await openLedgerDatabase();
});
afterAll(async () => {
  await ledgerDb?.close();
});
beforeEach(async () => {
  await ledgerDb.clear();
});

describe("record", () => {
  test("books every field of an event and reads it back unchanged", async () => {
    const failure = usageEvent();
    const success = usageEvent({ status: UsageStatus.SUCCESS, errorType: "", httpStatus: 200, stream: false, usageEstimated: false });
    await ledgerDb.ledger.record([failure, success]);
    expect(await ledgerDb.ledger.list({ requestId: failure.requestId })).toEqual([failure]);
    expect(await ledgerDb.ledger.list({ requestId: success.requestId })).toEqual([success]);
  });

  test("keeps an event without an end time", async () => {
    const event = usageEvent();
    delete event.endTime;
    await ledgerDb.ledger.record([event]);
    const [booked] = await ledgerDb.ledger.list({ requestId: event.requestId });
    expect(booked?.endTime).toBeUndefined();
  });

  test("books the same request id once, across calls and within one batch, keeping the first", async () => {
    const first = usageEvent({ cost: 1 });
    const replay = create(UsageEventSchema, { ...first, cost: 2 });
    await ledgerDb.ledger.record([first, replay]);
    await ledgerDb.ledger.record([first]);
    expect(await ledgerDb.requestIds()).toEqual([first.requestId]);
    expect((await ledgerDb.ledger.spendByKey([first.keyHash])).get(first.keyHash)).toBe(1);
  });

  test("refuses an event without a request id or a start time", async () => {
    await expect(ledgerDb.ledger.record([usageEvent({ requestId: "" })])).rejects.toThrow(RangeError);
    const timeless = usageEvent();
    delete timeless.startTime;
    await expect(ledgerDb.ledger.record([timeless])).rejects.toThrow("no start time");
    expect(await ledgerDb.requestIds()).toEqual([]);
  });
});

describe("spendByKey", () => {
  test("sums each key's spend and reports 0 for a key with no rows", async () => {
    const [a, b, nobody] = ["a", "b", "c"].map((c) => c.repeat(64)) as [string, string, string];
    await ledgerDb.ledger.record([
      usageEvent({ keyHash: a, cost: 0.25 }),
      usageEvent({ keyHash: a, cost: 0.5, startTime: timestampFromMs(1) }),
      usageEvent({ keyHash: b, cost: 2 }),
    ]);
    expect(await ledgerDb.ledger.spendByKey([a, nobody])).toEqual(
      new Map([
        [a, 0.75],
        [nobody, 0],
      ]),
    );
    expect(await ledgerDb.ledger.spendByKey([])).toEqual(new Map());
  });
});
