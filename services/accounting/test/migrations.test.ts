import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { sql } from "drizzle-orm";
import { openDatabase, type Database } from "@gateway/common";
import { createTestDatabase, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dayOf, Ledger, migrateAccounting, partitionName, SpendReports, type SpendTotalRow } from "../src/index.js";
import { usageEvent } from "./support/usage-events.js";

async function indexNames(database: Database): Promise<string[]> {
  const rows = await database.db
    .select({ name: sql<string>`indexname` })
    .from(sql`pg_indexes`)
    .where(sql`schemaname = 'accounting' AND tablename = 'spend_logs'`)
    .orderBy(sql`indexname`);
  return rows.map((row) => row.name);
}

async function expectWorkingLedger(database: Database): Promise<void> {
  expect(await indexNames(database)).toEqual(["spend_logs_end_user_start_time_idx", "spend_logs_key_hash_start_time_idx", "spend_logs_pkey", "spend_logs_session_id_start_time_idx", "spend_logs_start_time_idx"]);
  const ledger = new Ledger(database.db);
  const event = usageEvent();
  await ledger.record([event]);
  expect(await ledger.list({ requestId: event.requestId })).toEqual([event]);
}

describe("on Postgres", () => {
  let testDatabase: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = await openDatabase({ url: testDatabase.url, max: 1 });
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  test("the migrations build the ledger, and applying them again is a no-op", async () => {
    await migrateAccounting(database);
    await migrateAccounting(database);
    await expectWorkingLedger(database);
    const applied = await database.db.select({ n: sql<number>`count(*)::int` }).from(sql`accounting.migrations`);
    expect(applied).toEqual([{ n: 11 }]);
  });

  test("a ledger booked before LiteLLM's call_type names has its rows renamed", async () => {
    await migrateAccounting(database);
    const ledger = new Ledger(database.db);
    const old = ["chat_completions", "embeddings", "messages"].map((callType) => usageEvent({ callType }));
    await ledger.record([...old, usageEvent({ callType: "acompletion" })]);
    // As if the ledger predated the rename: forget that it and the migrations after it ran, and migrate again.
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 1 LIMIT 1)`);
    await migrateAccounting(database);
    const renamed = await Promise.all(old.map(async (e) => (await ledger.list({ requestId: e.requestId }))[0]?.callType));
    expect(renamed).toEqual(["acompletion", "aembedding", "anthropic_messages"]);
  });

  test("a ledger booked before end_user keeps its rows, naming none, and its partitions get the index", async () => {
    await migrateAccounting(database);
    const ledger = new Ledger(database.db);
    const startMs = Date.parse("2026-04-01T12:00:00Z");
    const old = usageEvent({ endUser: "", startTime: timestampFromMs(startMs) });
    await ledger.record([old]);
    // As if the rows predated the column: drop it (and so its index) and forget the migration that made it and those after.
    await database.db.execute(sql`ALTER TABLE accounting.spend_logs DROP COLUMN end_user`);
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 3 LIMIT 1)`);
    await migrateAccounting(database);
    expect(await ledger.list({ requestId: old.requestId })).toEqual([old]);
    const partition = partitionName("spend_logs", dayOf(startMs));
    const indexes = await database.db
      .select({ def: sql<string>`indexdef` })
      .from(sql`pg_indexes`)
      .where(sql`schemaname = 'accounting' AND tablename = ${partition} AND indexdef LIKE '%end_user%'`);
    expect(indexes.map((i) => i.def)).toEqual([expect.stringMatching(/\(end_user, start_time\) WHERE \(end_user <> ''::text\)$/)]);
  });

  test("a ledger booked before cache_hit and cache_key keeps its rows, as misses with no key", async () => {
    await migrateAccounting(database);
    const ledger = new Ledger(database.db);
    const old = usageEvent({ cacheHit: false, cacheKey: "" });
    await ledger.record([old]);
    // As if the rows predated the columns: drop them and forget the migration that made them and those after.
    await database.db.execute(sql`ALTER TABLE accounting.spend_logs DROP COLUMN cache_hit, DROP COLUMN cache_key`);
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 4 LIMIT 1)`);
    await migrateAccounting(database);
    expect(await ledger.list({ requestId: old.requestId })).toEqual([old]);
  });

  test("a ledger booked before request_tags keeps its rows, with no tags", async () => {
    await migrateAccounting(database);
    const ledger = new Ledger(database.db);
    const old = usageEvent({ requestTags: [] });
    await ledger.record([old]);
    // As if the rows predated the column: drop it and forget the migration that made it and those after.
    await database.db.execute(sql`ALTER TABLE accounting.spend_logs DROP COLUMN request_tags`);
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 5 LIMIT 1)`);
    await migrateAccounting(database);
    const [booked] = await ledger.list({ requestId: old.requestId });
    expect(booked?.requestTags).toEqual([]);
    expect(booked).toEqual(old);
  });

  test("a ledger booked before prompt-cache tokens keeps its rows and totals, with none, and books them from then on", async () => {
    await migrateAccounting(database);
    const ledger = new Ledger(database.db);
    const startTime = timestampFromMs(Date.parse("2026-06-03T12:00:00Z"));
    const old = usageEvent({ requestTags: ["cache-before"], cacheReadInputTokens: 0, cacheCreationInputTokens: 0, startTime });
    await ledger.record([old]);
    // As if the rows and totals predated the columns: drop them and forget the migration that made them.
    for (const table of ["spend_logs", "daily_spend", "daily_entity_spend"]) {
      await database.db.execute(sql`ALTER TABLE ${sql.raw(`accounting.${table}`)} DROP COLUMN cache_read_input_tokens, DROP COLUMN cache_creation_input_tokens`);
    }
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 7 LIMIT 1)`);
    await migrateAccounting(database);
    expect(await ledger.list({ requestId: old.requestId })).toEqual([old]);
    await ledger.record([usageEvent({ requestTags: ["cache-before"], startTime })]);
    const day = { startDay: "2026-06-03", endDay: "2026-06-03" };
    const filter = { keyHashes: [], teamIds: [], excludeTeamIds: [], modelGroup: "", entityType: "tag" as const, entities: ["cache-before"] };
    const rows = await new SpendReports(database.db).dailyActivity(day, filter, 10);
    expect(rows.map((r) => [r.requests, r.cacheReadInputTokens, r.cacheCreationInputTokens])).toEqual([[2, 5, 3]]);
  });

  test("daily totals booked before the provider and model were kept keep theirs, with neither, beside the cells booked from then on", async () => {
    await migrateAccounting(database);
    // Earlier tests ran older migrations again, whose backfills added cells of their own: start from none.
    await database.db.execute(sql`TRUNCATE accounting.daily_spend, accounting.daily_entity_spend`);
    const ledger = new Ledger(database.db);
    const startTime = timestampFromMs(Date.parse("2026-07-04T12:00:00Z"));
    await ledger.record([usageEvent({ requestTags: ["provider-before"], startTime })]);
    // As if the totals predated the columns: drop them (and so the keys they are in), put the earlier keys back, and forget the migration.
    await database.db.execute(sql`ALTER TABLE accounting.daily_spend DROP COLUMN provider, DROP COLUMN model`);
    await database.db.execute(sql`ALTER TABLE accounting.daily_spend ADD CONSTRAINT daily_spend_pkey PRIMARY KEY (day, key_hash, team_id, model_group)`);
    await database.db.execute(sql`ALTER TABLE accounting.daily_entity_spend DROP COLUMN provider, DROP COLUMN model`);
    await database.db.execute(
      sql`ALTER TABLE accounting.daily_entity_spend ADD CONSTRAINT daily_entity_spend_pkey PRIMARY KEY (day, entity_type, entity, key_hash, team_id, model_group)`,
    );
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 8 LIMIT 1)`);
    await migrateAccounting(database);
    await ledger.record([usageEvent({ requestTags: ["provider-before"], startTime })]);
    const reports = new SpendReports(database.db);
    const day = { startDay: "2026-07-04", endDay: "2026-07-04" };
    const filter = { keyHashes: [], teamIds: [], excludeTeamIds: [], modelGroup: "", entityType: "" as const, entities: [] };
    const cells = (rows: SpendTotalRow[]) => rows.map((r) => [r.provider, r.model, r.requests]);
    expect(cells(await reports.dailyActivity(day, filter, 10))).toEqual([["", "", 1], ["openai", "gpt-4o-mini", 1]]);
    expect(cells(await reports.dailyActivity(day, { ...filter, entityType: "tag", entities: ["provider-before"] }, 10))).toEqual([["", "", 1], ["openai", "gpt-4o-mini", 1]]);
  });

  test("a ledger booked before the entity totals gets them from its spend logs", async () => {
    await migrateAccounting(database);
    const startTime = timestampFromMs(Date.parse("2026-05-02T12:00:00Z"));
    await new Ledger(database.db).record([2, 4].map((cost) => usageEvent({ requestTags: ["backfilled"], endUser: "", cost, startTime })));
    // As if the rows predated the table: drop it and forget the migration that made it and those after.
    await database.db.execute(sql`DROP TABLE accounting.daily_entity_spend`);
    await database.db.execute(sql`DELETE FROM accounting.migrations WHERE created_at >= (SELECT created_at FROM accounting.migrations ORDER BY created_at OFFSET 6 LIMIT 1)`);
    await migrateAccounting(database);
    const reports = new SpendReports(database.db);
    const day = { startDay: "2026-05-02", endDay: "2026-05-02" };
    const filter = { keyHashes: [], teamIds: [], excludeTeamIds: [], modelGroup: "", entityType: "tag" as const, entities: ["backfilled"] };
    const rows = await reports.dailyActivity(day, filter, 10);
    expect(rows.map((r) => [r.entity, r.spend, r.requests, r.failedRequests])).toEqual([["backfilled", 6, 2, 2]]);
    // No end user: counted under none.
    expect(await reports.dailyActivity(day, { ...filter, entityType: "end_user", entities: [] }, 10)).toEqual([]);
  });
});

describe("on PGlite", () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({});
  });
  afterAll(async () => {
    await database?.close();
  });

  test("the same migrations build the same ledger in memory", async () => {
    await migrateAccounting(database);
    await expectWorkingLedger(database);
  });
});
