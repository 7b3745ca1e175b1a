import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { AccountingService, SpendGroupBy, SpendTotalSchema } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_LIST_LIMIT } from "../src/index.js";
import { accountingClient } from "./support/client.js";
import { openLedgerDatabase, type LedgerDatabase } from "./support/ledger-database.js";
import { usageEvent } from "./support/usage-events.js";

const [alice, bob, carol] = ["a", "b", "c"].map((c) => c.repeat(64)) as [string, string, string];
const noon = (day: string) => Date.parse(`${day}T12:00:00Z`);

// Costs are powers of two, so every sum is exact.
function spent(keyHash: string, teamId: string, modelGroup: string, day: string, cost: number, init: Parameters<typeof usageEvent>[0] = {}) {
  return usageEvent({
    keyHash,
    keyAlias: `${keyHash[0]}-alias`,
    teamId,
    modelGroup,
    cost,
    promptTokens: cost * 10,
    completionTokens: Math.ceil(cost),
    totalTokens: cost * 10 + Math.ceil(cost),
    status: UsageStatus.SUCCESS,
    startTime: timestampFromMs(noon(day)),
    endUser: "",
    ...init,
  });
}

const first = spent(alice, "team-a", "fast", "2024-11-20", 1, { requestTags: ["ticket-1", "prod"] });
const ledger = [
  first,
  spent(alice, "team-a", "smart", "2024-11-20", 2, { requestTags: [] }),
  spent(alice, "team-a", "fast", "2024-11-21", 4, { requestTags: ["ticket-1"] }),
  spent(bob, "team-b", "fast", "2024-11-21", 8, { requestTags: ["ticket-1"], endUser: "acme" }),
  spent(bob, "team-b", "fast", "2024-11-21", 0.5, { status: UsageStatus.FAILURE, requestTags: ["ticket-1"] }),
  spent(carol, "team-b", "smart", "2024-11-22", 16, { requestTags: ["ticket-2"], endUser: "acme" }),
];

function total(init: MessageInitShape<typeof SpendTotalSchema>) {
  return create(SpendTotalSchema, init);
}

let ledgerDb: LedgerDatabase;
let client: Client<typeof AccountingService>;
beforeAll(async () => {
  ledgerDb = await openLedgerDatabase();
  await ledgerDb.ledger.record(ledger);
  // A redelivery of the first event must not count twice in any report.
  await ledgerDb.ledger.record([first]);
  client = accountingClient(ledgerDb);
});
afterAll(async () => {
  await ledgerDb?.close();
});

describe("SpendReport", () => {
  const range = { startDate: "2024-11-20", endDate: "2024-11-21" };

  test("by api key: one row per key and model over the range, highest spend first", async () => {
    const { rows } = await client.spendReport({ ...range, groupBy: SpendGroupBy.API_KEY });
    expect(rows).toEqual([
      total({ keyHash: bob, keyAlias: "b-alias", modelGroup: "fast", spend: 8.5, promptTokens: 85n, completionTokens: 9n, totalTokens: 94n, requests: 2n }),
      total({ keyHash: alice, keyAlias: "a-alias", modelGroup: "fast", spend: 5, promptTokens: 50n, completionTokens: 5n, totalTokens: 55n, requests: 2n }),
      total({ keyHash: alice, keyAlias: "a-alias", modelGroup: "smart", spend: 2, promptTokens: 20n, completionTokens: 2n, totalTokens: 22n, requests: 1n }),
    ]);
  });

  test("by team: one row per day, team, key and model", async () => {
    const { rows } = await client.spendReport({ ...range, groupBy: SpendGroupBy.TEAM });
    expect(rows.map((r) => [r.day, r.teamId, r.keyHash, r.modelGroup, r.spend, r.requests])).toEqual([
      ["2024-11-20", "team-a", alice, "fast", 1, 1n],
      ["2024-11-20", "team-a", alice, "smart", 2, 1n],
      ["2024-11-21", "team-a", alice, "fast", 4, 1n],
      ["2024-11-21", "team-b", bob, "fast", 8.5, 2n],
    ]);
  });

  test("by model: the same key-and-model cells, for the edge to nest by model", async () => {
    const { rows } = await client.spendReport({ startDate: "2024-11-20", endDate: "2024-11-22", groupBy: SpendGroupBy.MODEL });
    expect(rows.map((r) => [r.modelGroup, r.keyHash, r.spend])).toEqual([
      ["smart", carol, 16],
      ["fast", bob, 8.5],
      ["fast", alice, 5],
      ["smart", alice, 2],
    ]);
  });

  test.each([
    ["a missing end date", { startDate: "2024-11-20" }],
    ["a day that does not exist", { startDate: "2026-02-31", endDate: "2026-03-01" }],
    ["a start after the end", { startDate: "2024-11-22", endDate: "2024-11-21" }],
    ["a timestamp instead of a day", { startDate: "2024-11-20T00:00:00Z", endDate: "2024-11-21" }],
  ])("rejects %s", async (_, request) => {
    await expect(client.spendReport(request)).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});

describe("TopKeys and TopModels", () => {
  const range = { startDate: "2024-11-20", endDate: "2024-11-22" };

  test("rank keys by spend with their alias, up to the limit", async () => {
    const { keys } = await client.topKeys({ ...range, limit: 2 });
    expect(keys.map((k) => [k.keyHash, k.keyAlias, k.spend])).toEqual([
      [carol, "c-alias", 16],
      [bob, "b-alias", 8.5],
    ]);
    expect((await client.topKeys(range)).keys.map((k) => k.spend)).toEqual([16, 8.5, 7]);
  });

  test("rank model groups by spend", async () => {
    const { models } = await client.topModels(range);
    expect(models.map((m) => [m.modelGroup, m.spend, m.totalTokens])).toEqual([
      ["smart", 18, 198n],
      ["fast", 13.5, 149n],
    ]);
  });

  test("cover the last 30 days when no range is given", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const recent = spent("d".repeat(64), "team-d", "recent-model", today, 32);
    const old = spent("d".repeat(64), "team-d", "old-model", "2020-01-01", 64);
    await ledgerDb.ledger.record([recent, old]);
    expect((await client.topModels({})).models.map((m) => [m.modelGroup, m.spend])).toEqual([["recent-model", 32]]);
    expect((await client.topKeys({})).keys.map((k) => [k.keyHash, k.spend])).toEqual([["d".repeat(64), 32]]);
  });

  test("reject a limit above the maximum", async () => {
    await expect(client.topKeys({ limit: MAX_LIST_LIMIT + 1 })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.topModels({ endDate: "yesterday" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});

describe("DailyActivity", () => {
  const range = { startDate: "2024-11-20", endDate: "2024-11-22" };
  const cells = async (request: Parameters<typeof client.dailyActivity>[0]) =>
    (await client.dailyActivity(request)).rows.map((r) => [r.day, r.keyHash[0], r.teamId, r.modelGroup, r.spend, r.requests, r.failedRequests]);

  test("answers each day, key, team and model cell with its failed requests, filtered as asked", async () => {
    expect(await cells(range)).toEqual([
      ["2024-11-20", "a", "team-a", "fast", 1, 1n, 0n],
      ["2024-11-20", "a", "team-a", "smart", 2, 1n, 0n],
      ["2024-11-21", "a", "team-a", "fast", 4, 1n, 0n],
      ["2024-11-21", "b", "team-b", "fast", 8.5, 2n, 1n],
      ["2024-11-22", "c", "team-b", "smart", 16, 1n, 0n],
    ]);
    expect(await cells({ ...range, keyHashes: [bob, carol], modelGroup: "smart" })).toEqual([["2024-11-22", "c", "team-b", "smart", 16, 1n, 0n]]);
    expect(await cells({ ...range, teamIds: ["team-b"], excludeTeamIds: ["team-a"] })).toHaveLength(2);
    expect(await cells({ ...range, excludeTeamIds: ["team-b"] })).toHaveLength(3);
  });

  test("answers each tag's cells from the entity totals, each request once under each of its tags", async () => {
    const tagged = async (request: Parameters<typeof client.dailyActivity>[0]) =>
      (await client.dailyActivity({ ...request, entityType: "tag" })).rows.map((r) => [r.day, r.entity, r.keyHash[0], r.modelGroup, r.spend, r.requests, r.failedRequests]);
    // The first event was delivered twice; the untagged one is under no tag.
    expect(await tagged(range)).toEqual([
      ["2024-11-20", "prod", "a", "fast", 1, 1n, 0n],
      ["2024-11-20", "ticket-1", "a", "fast", 1, 1n, 0n],
      ["2024-11-21", "ticket-1", "a", "fast", 4, 1n, 0n],
      ["2024-11-21", "ticket-1", "b", "fast", 8.5, 2n, 1n],
      ["2024-11-22", "ticket-2", "c", "smart", 16, 1n, 0n],
    ]);
    expect(await tagged({ ...range, entities: ["ticket-2", "prod"] })).toEqual([
      ["2024-11-20", "prod", "a", "fast", 1, 1n, 0n],
      ["2024-11-22", "ticket-2", "c", "smart", 16, 1n, 0n],
    ]);
    expect(await tagged({ ...range, entities: ["ticket-1"], keyHashes: [alice] })).toHaveLength(2);
    // Without an entity type, entities narrow nothing.
    expect(await cells({ ...range, entities: ["ticket-2"] })).toHaveLength(5);
  });

  test("answers each end user's cells, a request under its end user", async () => {
    const rows = await client.dailyActivity({ ...range, entityType: "end_user" });
    expect(rows.rows.map((r) => [r.day, r.entity, r.keyHash[0], r.spend, r.requests])).toEqual([
      ["2024-11-21", "acme", "b", 8, 1n],
      ["2024-11-22", "acme", "c", 16, 1n],
    ]);
    await expect(client.dailyActivity({ ...range, entityType: "org" })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });

  test("refuses a range longer than a year, and too many ids", async () => {
    await expect(client.dailyActivity({ startDate: "2023-01-01", endDate: "2024-01-03" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    const many = Array.from({ length: MAX_LIST_LIMIT + 1 }, (_, i) => String(i));
    await expect(client.dailyActivity({ ...range, teamIds: many })).rejects.toMatchObject({ code: Code.InvalidArgument });
  });
});
