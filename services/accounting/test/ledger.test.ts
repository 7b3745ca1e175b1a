import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { rowsOf } from "@gateway/common";
import { TagSpendSchema } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { Ledger } from "../src/index.js";
import { accountingClient } from "./support/client.js";
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

  test("keeps the end user an event names, and '' for one that names none", async () => {
    const named = usageEvent({ endUser: "customer-42" });
    const unnamed = usageEvent({ endUser: "" });
    await ledgerDb.ledger.record([named, unnamed]);
    expect((await ledgerDb.ledger.list({ requestId: named.requestId }))[0]?.endUser).toBe("customer-42");
    expect((await ledgerDb.ledger.list({ requestId: unnamed.requestId }))[0]?.endUser).toBe("");
  });

  test("keeps the session an event names, and lists a session's rows alone", async () => {
    const session = `session-${randomUUID()}`;
    const first = usageEvent({ sessionId: session });
    const second = usageEvent({ sessionId: session });
    const other = usageEvent({ sessionId: "" });
    await ledgerDb.ledger.record([first, second, other]);
    expect((await ledgerDb.ledger.list({ sessionId: session })).map((e) => e.requestId).sort()).toEqual([first.requestId, second.requestId].sort());
    expect((await ledgerDb.ledger.list({ requestId: other.requestId }))[0]?.sessionId).toBe("");
  });

  test("keeps a client's spend_logs_metadata as an object, and {} for none or for text that is not one", async () => {
    const kept = usageEvent({ spendLogsMetadata: JSON.stringify({ job: "nightly", shard: 3 }) });
    const none = usageEvent({ spendLogsMetadata: "" });
    const broken = usageEvent({ spendLogsMetadata: "[1, 2" });
    await ledgerDb.ledger.record([kept, none, broken]);
    expect(JSON.parse((await ledgerDb.ledger.list({ requestId: kept.requestId }))[0]!.spendLogsMetadata)).toEqual({ job: "nightly", shard: 3 });
    for (const event of [none, broken]) expect((await ledgerDb.ledger.list({ requestId: event.requestId }))[0]?.spendLogsMetadata).toBe("");
  });

  test("keeps whether the response cache answered and its key, and false and '' for an event without them", async () => {
    const hit = usageEvent({ cacheHit: true, cacheKey: "abc123def456", cost: 0 });
    const miss = usageEvent({ cacheHit: false, cacheKey: "" });
    await ledgerDb.ledger.record([hit, miss]);
    expect(await ledgerDb.ledger.list({ requestId: hit.requestId })).toMatchObject([{ cacheHit: true, cacheKey: "abc123def456" }]);
    expect(await ledgerDb.ledger.list({ requestId: miss.requestId })).toMatchObject([{ cacheHit: false, cacheKey: "" }]);
  });

  test("keeps the request's tags as a list of strings, and [] for an event without them", async () => {
    const tagged = usageEvent({ requestTags: ["team:search", 'say "hi"', "größe", "a,b"] });
    const untagged = usageEvent({ requestTags: [] });
    await ledgerDb.ledger.record([tagged, untagged]);
    expect((await ledgerDb.ledger.list({ requestId: tagged.requestId }))[0]?.requestTags).toEqual(["team:search", 'say "hi"', "größe", "a,b"]);
    expect((await ledgerDb.ledger.list({ requestId: untagged.requestId }))[0]?.requestTags).toEqual([]);
    const [row] = rowsOf<{ type: string }>(
      await ledgerDb.database.db.execute(sql`SELECT jsonb_typeof(request_tags) AS type FROM accounting.spend_logs WHERE request_id = ${tagged.requestId}`),
    );
    expect(row?.type).toBe("array");
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

describe("spendByTeam", () => {
  test("sums each team's spend over all its keys and reports 0 for a team with no rows", async () => {
    await ledgerDb.ledger.record([
      usageEvent({ keyHash: "1".repeat(64), teamId: "team-x", cost: 0.25 }),
      usageEvent({ keyHash: "2".repeat(64), teamId: "team-x", cost: 1 }),
      usageEvent({ keyHash: "2".repeat(64), teamId: "team-y", cost: 4 }),
    ]);
    expect(await ledgerDb.ledger.spendByTeam(["team-x", "team-none"])).toEqual(
      new Map([
        ["team-x", 1.25],
        ["team-none", 0],
      ]),
    );
  });
});

describe("spendByEndUser", () => {
  test("sums each end user's spend over all keys and days, 0 for one with no rows and for ''", async () => {
    await ledgerDb.ledger.record([
      usageEvent({ keyHash: "1".repeat(64), endUser: "customer-x", cost: 0.25 }),
      usageEvent({ keyHash: "2".repeat(64), endUser: "customer-x", cost: 1, startTime: timestampFromMs(1) }),
      usageEvent({ keyHash: "2".repeat(64), endUser: "customer-y", cost: 4 }),
      usageEvent({ keyHash: "2".repeat(64), endUser: "", cost: 8 }),
    ]);
    expect(await ledgerDb.ledger.spendByEndUser(["customer-x", "customer-none", ""])).toEqual(
      new Map([
        ["customer-x", 1.25],
        ["customer-none", 0],
        ["", 0],
      ]),
    );
    expect(await ledgerDb.ledger.spendByEndUser([])).toEqual(new Map());
  });
});

describe("daily totals", () => {
  test("add each new row to its UTC day, key, team and model, and a repeat adds nothing", async () => {
    const key = "9".repeat(64);
    const lateOnTheFirst = Date.parse("2026-03-01T23:59:59.999Z");
    const events = [
      usageEvent({ keyHash: key, cost: 0.25, promptTokens: 1, completionTokens: 2, totalTokens: 3, startTime: timestampFromMs(lateOnTheFirst) }),
      usageEvent({ keyHash: key, cost: 0.5, promptTokens: 10, completionTokens: 20, totalTokens: 30, startTime: timestampFromMs(lateOnTheFirst + 1) }),
      usageEvent({ keyHash: key, cost: 1, promptTokens: 100, completionTokens: 200, totalTokens: 300, startTime: timestampFromMs(lateOnTheFirst + 2) }),
    ];
    expect(await ledgerDb.ledger.record(events)).toBe(3);
    expect(await ledgerDb.ledger.record([...events].reverse())).toBe(0);
    const report = await ledgerDb.reports.report({ startDay: "2026-03-01", endDay: "2026-03-02" }, "team");
    expect(report.map((r) => [r.day, r.spend, r.promptTokens, r.completionTokens, r.totalTokens, r.requests])).toEqual([
      ["2026-03-01", 0.25, 1, 2, 3, 1],
      ["2026-03-02", 1.5, 110, 220, 330, 2],
    ]);
    expect((await ledgerDb.ledger.spendByKey([key])).get(key)).toBe(1.75);
  });

  test("put each row in the partition of its UTC day", async () => {
    const event = usageEvent({ startTime: timestampFromMs(Date.parse("2026-03-01T23:59:59.999Z")) });
    await ledgerDb.ledger.record([event]);
    const [row] = rowsOf<{ partition: string }>(
      await ledgerDb.database.db.execute(sql`SELECT tableoid::regclass::text AS partition FROM accounting.spend_logs WHERE request_id = ${event.requestId}`),
    );
    expect(row?.partition).toBe("accounting.spend_logs_p20260301");
  });
});

describe("stored prompts", () => {
  test("are kept only when store_prompts_in_spend_logs is on", async () => {
    const withPrompts = new Ledger(ledgerDb.database.db, { storePrompts: true });
    const stored = usageEvent({ messages: '[{"role":"user","content":"hi"}]', response: '{"choices":[]}' });
    const notStored = usageEvent({ messages: '[{"role":"user","content":"secret plans"}]', response: "{}" });
    await withPrompts.record([stored]);
    await ledgerDb.ledger.record([notStored]);
    const rows = rowsOf(await ledgerDb.database.db.execute(sql`SELECT request_id, messages, response FROM accounting.spend_log_payloads`));
    expect(rows).toEqual([{ request_id: stored.requestId, messages: stored.messages, response: stored.response }]);
    expect(await ledgerDb.requestIds()).toEqual([stored.requestId, notStored.requestId].sort());
  });
});

describe("TagSpend", () => {
  const T0 = Date.parse("2026-05-10T12:00:00Z");
  const MINUTE = 60_000;
  const DAY = 86_400_000;
  // Costs are powers of two, so every sum is exact.
  const tagged = (requestTags: string[], cost: number, startMs: number) => usageEvent({ requestTags, cost, startTime: timestampFromMs(startMs) });
  const events = [
    tagged(["team:search", "env:prod"], 1, T0),
    tagged(["team:search"], 2, T0 + MINUTE),
    tagged(["env:prod", "team:ads"], 4, T0 + 2 * MINUTE),
    // The same spend under two tags: the tag breaks the tie.
    tagged(["z-tie", "a-tie"], 0.25, T0 + 2 * MINUTE),
    // No tags: counted under none.
    tagged([], 64, T0 + 3 * MINUTE),
    // The day before and the day after, in partitions of their own.
    tagged(["team:ads"], 8, T0 - DAY),
    tagged(["env:dev"], 16, T0 + DAY),
  ];
  const row = (tag: string, requests: number, spend: number) => create(TagSpendSchema, { tag, requests: BigInt(requests), spend });

  beforeEach(async () => {
    await ledgerDb.ledger.record(events);
  });

  test("sums spend and counts rows per tag over the whole ledger, highest spend first, then by tag", async () => {
    const { tags } = await accountingClient(ledgerDb).tagSpend({});
    expect(tags).toEqual([
      row("env:dev", 1, 16),
      row("team:ads", 2, 4 + 8),
      row("env:prod", 2, 1 + 4),
      row("team:search", 2, 1 + 2),
      row("a-tie", 1, 0.25),
      row("z-tie", 1, 0.25),
    ]);
  });

  test("bounds start time inclusively at both ends, and either end alone", async () => {
    const client = accountingClient(ledgerDb);
    expect((await client.tagSpend({ startMs: BigInt(T0), endMs: BigInt(T0 + 2 * MINUTE) })).tags).toEqual([
      row("env:prod", 2, 1 + 4),
      row("team:ads", 1, 4),
      row("team:search", 2, 1 + 2),
      row("a-tie", 1, 0.25),
      row("z-tie", 1, 0.25),
    ]);
    expect((await client.tagSpend({ startMs: BigInt(T0 + MINUTE) })).tags).toEqual([
      row("env:dev", 1, 16),
      row("env:prod", 1, 4),
      row("team:ads", 1, 4),
      row("team:search", 1, 2),
      row("a-tie", 1, 0.25),
      row("z-tie", 1, 0.25),
    ]);
    expect((await client.tagSpend({ endMs: BigInt(T0) })).tags).toEqual([row("team:ads", 1, 8), row("env:prod", 1, 1), row("team:search", 1, 1)]);
    // Only the untagged row is in range.
    expect((await client.tagSpend({ startMs: BigInt(T0 + 3 * MINUTE), endMs: BigInt(T0 + 3 * MINUTE) })).tags).toEqual([]);
  });

  test("reads whole UTC days from the tag totals", async () => {
    const client = accountingClient(ledgerDb);
    const day = Math.floor(T0 / DAY) * DAY;
    // A cell only the totals hold (as if retention had dropped its day's rows) shows which were read.
    await ledgerDb.database.db.execute(sql`
      INSERT INTO accounting.daily_entity_spend VALUES ('2026-05-11', 'tag', 'env:dev', 'k', '', 'm', '', 32, 0, 0, 0, 1, 0)`);
    expect((await client.tagSpend({ startMs: BigInt(day), endMs: BigInt(day + DAY - 1) })).tags).toEqual([
      row("env:prod", 2, 1 + 4),
      row("team:ads", 1, 4),
      row("team:search", 2, 1 + 2),
      row("a-tie", 1, 0.25),
      row("z-tie", 1, 0.25),
    ]);
    expect((await client.tagSpend({ startMs: BigInt(day + DAY) })).tags).toEqual([row("env:dev", 2, 16 + 32)]);
    // Within a day, the spend logs.
    expect((await client.tagSpend({ startMs: BigInt(day + DAY + 1) })).tags).toEqual([row("env:dev", 1, 16)]);
  });

  test.each([
    ["a start after the end", { startMs: 2n, endMs: 1n }],
    ["a negative start", { startMs: -1n }],
    ["an end beyond any date", { endMs: 10n ** 16n }],
  ])("rejects %s as an invalid argument", async (_, request) => {
    await expect(accountingClient(ledgerDb).tagSpend(request)).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
