import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { entryObject } from "@gateway/common";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from "../src/index.js";
import { accountingClient } from "./support/client.js";
import { openLedgerDatabase, type LedgerDatabase } from "./support/ledger-database.js";
import { usageEvent } from "./support/usage-events.js";

const alice = "a".repeat(64);
const bob = "b".repeat(64);
const T0 = 1_760_000_000_000;
const MINUTE = 60_000;

// Six requests a minute apart: alice's at minutes 0, 2, 4; bob's at 1, 3, 5.
const events = Array.from({ length: 6 }, (_, minute) =>
  usageEvent({
    requestId: `req-${minute}`,
    keyHash: minute % 2 === 0 ? alice : bob,
    userId: minute % 2 === 0 ? "alice" : "bob",
    teamId: minute < 2 ? "early" : "",
    // Minutes 0, 3: acme's; the rest name no end user.
    endUser: minute % 3 === 0 ? "acme" : "",
    cost: minute + 0.5,
    startTime: timestampFromMs(T0 + minute * MINUTE),
  }),
);

let ledgerDb: LedgerDatabase;
let client: Client<typeof AccountingService>;
beforeAll(async () => {
  ledgerDb = await openLedgerDatabase();
  client = accountingClient(ledgerDb);
});
beforeEach(async () => {
  await ledgerDb.clear();
  await ledgerDb.ledger.record(events);
});
afterAll(async () => {
  await ledgerDb?.close();
});

async function listIds(request: Parameters<typeof client.listSpendLogs>[0]): Promise<string[]> {
  const { logs } = await client.listSpendLogs(request);
  return logs.map((log) => log.requestId);
}

describe("who may call", () => {
  // Split, this service listens on a port of its own: reaching it must not be enough to read spend.
  test("every call needs the master key", async () => {
    const calls = (c: Client<typeof AccountingService>) => [
      () => c.listSpendLogs({}),
      () => c.keySpend({ keyHashes: [alice] }),
      () => c.spendReport({ startDate: "2025-10-09", endDate: "2025-10-09" }),
      () => c.topKeys({}),
      () => c.topModels({}),
      () => c.tagSpend({}),
      () => c.totalSpend({}),
      () => c.dailyActivity({ startDate: "2025-10-09", endDate: "2025-10-09" }),
    ];
    for (const call of calls(accountingClient(ledgerDb, ""))) {
      await expect(call()).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    for (const call of calls(accountingClient(ledgerDb, "sk-a-virtual-key-not-the-master"))) {
      await expect(call()).rejects.toMatchObject({ code: Code.PermissionDenied });
    }
    for (const call of calls(client)) await expect(call()).resolves.toBeDefined();
  });
});

describe("ListSpendLogs", () => {
  test("returns full usage events, newest first", async () => {
    const { logs } = await client.listSpendLogs({});
    expect(logs.map((log) => log.requestId)).toEqual(["req-5", "req-4", "req-3", "req-2", "req-1", "req-0"]);
    expect(logs[5]).toEqual(events[0]);
  });

  test("filters by key hash, user id and request id", async () => {
    expect(await listIds({ keyHash: alice })).toEqual(["req-4", "req-2", "req-0"]);
    expect(await listIds({ userId: "bob" })).toEqual(["req-5", "req-3", "req-1"]);
    expect(await listIds({ requestId: "req-3" })).toEqual(["req-3"]);
    expect(await listIds({ keyHash: alice, userId: "bob" })).toEqual([]);
  });

  test("bounds start time inclusively at both ends", async () => {
    const at = (minute: number) => BigInt(T0 + minute * MINUTE);
    expect(await listIds({ startMs: at(1), endMs: at(3) })).toEqual(["req-3", "req-2", "req-1"]);
    expect(await listIds({ startMs: at(4) })).toEqual(["req-5", "req-4"]);
    expect(await listIds({ endMs: at(0) })).toEqual(["req-0"]);
  });

  test("pages with limit and offset without overlap", async () => {
    const pages = [];
    for (let offset = 0; offset < 6; offset += 4) pages.push(await listIds({ limit: 4, offset }));
    expect(pages).toEqual([
      ["req-5", "req-4", "req-3", "req-2"],
      ["req-1", "req-0"],
    ]);
    expect(await listIds({ offset: 6 })).toEqual([]);
  });

  test("returns at most the default limit when none is given", async () => {
    const many = Array.from({ length: DEFAULT_LIST_LIMIT + 1 }, () => usageEvent({ keyHash: "c".repeat(64) }));
    await ledgerDb.ledger.record(many);
    const { logs } = await client.listSpendLogs({ keyHash: "c".repeat(64) });
    expect(logs).toHaveLength(DEFAULT_LIST_LIMIT);
  });

  test.each([
    ["a start after the end", { startMs: 2n, endMs: 1n }],
    ["a negative start", { startMs: -1n }],
    ["an end beyond any date", { endMs: 10n ** 16n }],
    ["a limit above the maximum", { limit: MAX_LIST_LIMIT + 1 }],
  ])("rejects %s as an invalid argument", async (_, request) => {
    const err = await client.listSpendLogs(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
  });
});

describe("EndUserSpend", () => {
  test("answers the end users with requests booked, every one or those named, and no others", async () => {
    expect((await client.endUserSpend({})).endUsers).toEqual([expect.objectContaining({ endUser: "acme", requests: 2n, spend: 0.5 + 3.5 })]);
    expect((await client.endUserSpend({ endUsers: ["acme", "nobody-here"] })).endUsers.map((e) => e.endUser)).toEqual(["acme"]);
    expect((await client.endUserSpend({ endUsers: ["nobody-here"] })).endUsers).toEqual([]);
    const many = Array.from({ length: MAX_LIST_LIMIT + 1 }, (_, i) => String(i));
    await expect(client.endUserSpend({ endUsers: many })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});

describe("KeySpend", () => {
  test("sums the ledger's spend per key hash, 0 for a key without rows", async () => {
    const nobody = "d".repeat(64);
    const { spend } = await client.keySpend({ keyHashes: [alice, bob, nobody] });
    expect(entryObject(spend)).toEqual({ [alice]: 0.5 + 2.5 + 4.5, [bob]: 1.5 + 3.5 + 5.5, [nobody]: 0 });
  });

  test("sums the ledger's spend per team id alongside", async () => {
    const { spend, teamSpend } = await client.keySpend({ keyHashes: [alice], teamIds: ["early", "no-team-here"] });
    expect(entryObject(spend)).toEqual({ [alice]: 0.5 + 2.5 + 4.5 });
    expect(entryObject(teamSpend)).toEqual({ early: 0.5 + 1.5, "no-team-here": 0 });
  });

  test("sums the ledger's spend per end user alongside, 0 for one without rows", async () => {
    const { spend, teamSpend, endUserSpend } = await client.keySpend({ endUsers: ["acme", "nobody-here"] });
    expect(entryObject(spend)).toEqual({});
    expect(entryObject(teamSpend)).toEqual({});
    expect(entryObject(endUserSpend)).toEqual({ acme: 0.5 + 3.5, "nobody-here": 0 });
  });

  test("rejects more key hashes, team ids or end users than one request may carry", async () => {
    const many = Array.from({ length: MAX_LIST_LIMIT + 1 }, (_, i) => String(i));
    await expect(client.keySpend({ keyHashes: many })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.keySpend({ teamIds: many })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.keySpend({ endUsers: many })).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect((await client.keySpend({ endUsers: many.slice(1) })).endUserSpend.find((e) => e.key === "1")?.value).toBe(0);
  });
});
