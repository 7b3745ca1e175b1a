import { and, desc, eq, gte, inArray, lte, sql, type SQL } from "drizzle-orm";
import { PgDialect, type PgColumn } from "drizzle-orm/pg-core";
import { pgErrorCode, rowsOf, type Db } from "@gateway/common";
import type { UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { dailyEntitySpend, dailySpend, spendLogPayloads, spendLogs } from "./db/schema.js";
import { dayOf, Partitions } from "./partitions.js";
import { toLedgerRecord, toUsageEvent, type LedgerRecord } from "./spend-log.js";

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

/** What ListSpendLogs may narrow by; an absent filter matches everything. */
export interface SpendLogFilters {
  keyHash?: string;
  requestId?: string;
  userId?: string;
  sessionId?: string;
  /** Inclusive bounds on start time, unix milliseconds. */
  startMs?: number;
  endMs?: number;
  /** At most MAX_LIST_LIMIT; DEFAULT_LIST_LIMIT when absent. */
  limit?: number;
  offset?: number;
}

/** The spend of one key, user and provider model on one UTC day ("YYYY-MM-DD"). */
export interface SpendLogDayRow {
  day: string;
  keyHash: string;
  userId: string;
  model: string;
  spend: number;
}

/** The requests (ledger rows) that carry one request tag, and their spend. */
export interface TagSpendRow {
  tag: string;
  requests: number;
  spend: number;
}

export interface LedgerOptions {
  /** general_settings.store_prompts_in_spend_logs: keep the events' messages and responses. */
  storePrompts?: boolean;
}

// SQLSTATE 23514 on an insert into a partitioned table: no partition holds the row.
const NO_PARTITION = "23514";
const dialect = new PgDialect();
const BOOK_STATEMENT = "book_usage";

/**
 * The columns of a batch row, in the order bookStatement's rows list their
 * values, with their SQL types; "epoch_ms" is a timestamptz sent as unix
 * milliseconds (times an interval, exact: no floating-point seconds), and a
 * "jsonb" value is taken as the JSON it is in the batch.
 */
const COLUMNS: readonly (readonly [keyof LedgerRecord, string])[] = [
  ["request_id", "text"],
  ["key_hash", "text"],
  ["key_alias", "text"],
  ["user_id", "text"],
  ["team_id", "text"],
  ["end_user", "text"],
  ["session_id", "text"],
  ["spend_logs_metadata", "jsonb"],
  ["cache_hit", "boolean"],
  ["cache_key", "text"],
  ["request_tags", "jsonb"],
  ["model_group", "text"],
  ["original_model_group", "text"],
  ["attempted_fallbacks", "integer"],
  ["deployment_id", "text"],
  ["provider", "text"],
  ["model", "text"],
  ["prompt_tokens", "integer"],
  ["completion_tokens", "integer"],
  ["total_tokens", "integer"],
  ["cache_read_input_tokens", "integer"],
  ["cache_creation_input_tokens", "integer"],
  ["spend", "double precision"],
  ["start_time", "epoch_ms"],
  ["end_time", "epoch_ms"],
  ["latency_ms", "double precision"],
  ["status", "text"],
  ["error_type", "text"],
  ["http_status", "integer"],
  ["stream", "boolean"],
  ["usage_estimated", "boolean"],
  ["call_type", "text"],
  ["messages", "text"],
  ["response", "text"],
];
// Each row's values by position: (r->>0)::text AS request_id, ...
const INPUT_COLUMNS = sql.raw(
  COLUMNS.map(([name, type], i) => {
    if (type === "epoch_ms") return `timestamptz 'epoch' + (r->>${i})::bigint * interval '1 millisecond' AS ${name}`;
    // ->> would give the array's text, to be parsed again; -> keeps it jsonb.
    if (type === "jsonb") return `r->${i} AS ${name}`;
    return `(r->>${i})::${type} AS ${name}`;
  }).join(", "),
);

// A NUL character as JSON.stringify writes it (\u0000), where the backslash
// before it is not itself escaped (an even run of backslashes, or none).
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * A batch as the statement's one parameter: a JSON array of rows, each an
 * array of values in COLUMNS order. Postgres holds no NUL in text or jsonb,
 * and several columns are the client's own text (its end user, its tags, the
 * model name it asked for): NULs are left out, so such a request is booked
 * rather than refused.
 */
function batchJson(records: LedgerRecord[]): string {
  const json = JSON.stringify(records.map((record) => COLUMNS.map(([name]) => record[name])));
  return json.includes("\\u0000") ? json.replace(NUL_ESCAPE, "$1") : json;
}

// A daily total's cell past its key (daily_spend's, daily_entity_spend's): its
// columns, what a batch's booked rows sum to in it, and how that adds to what
// the cell holds.
const CELL_COLUMNS = sql.raw(
  "key_alias, spend, prompt_tokens, completion_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, requests, failed_requests",
);
const CELL_SUMS = sql.raw(
  "(array_agg(key_alias ORDER BY start_time DESC))[1], sum(spend), sum(prompt_tokens), sum(completion_tokens), " +
    "sum(total_tokens), sum(cache_read_input_tokens), sum(cache_creation_input_tokens), count(*), count(*) FILTER (WHERE status = 'failure')",
);
const ADD_TO_CELL = sql.raw(
  "key_alias = excluded.key_alias, spend = d.spend + excluded.spend, prompt_tokens = d.prompt_tokens + excluded.prompt_tokens, " +
    "completion_tokens = d.completion_tokens + excluded.completion_tokens, total_tokens = d.total_tokens + excluded.total_tokens, " +
    "cache_read_input_tokens = d.cache_read_input_tokens + excluded.cache_read_input_tokens, " +
    "cache_creation_input_tokens = d.cache_creation_input_tokens + excluded.cache_creation_input_tokens, " +
    "requests = d.requests + excluded.requests, failed_requests = d.failed_requests + excluded.failed_requests",
);

/**
 * Books a batch in one statement, so its rows and the daily totals they add
 * to (per key, and per request tag and end user) commit together or not at
 * all. The batch travels as one JSON parameter (the same on Postgres and
 * PGlite, and one round trip however large the batch), its rows as arrays
 * rather than objects: half the bytes to write, send and parse. Only rows
 * that were not in the ledger yet come back from the insert, so only they
 * reach the totals and the payloads: a redelivered event changes nothing.
 * Totals are upserted in key order so that two replicas booking the same
 * cells wait for each other instead of deadlocking.
 */
function bookStatement(records: LedgerRecord[]): SQL {
  return sql`
    WITH input AS (
      SELECT ${INPUT_COLUMNS} FROM jsonb_array_elements(${batchJson(records)}::jsonb) AS r
    ),
    booked AS (
      INSERT INTO accounting.spend_logs (request_id, key_hash, key_alias, user_id, team_id, end_user, session_id,
        spend_logs_metadata, cache_hit, cache_key, request_tags, model_group, original_model_group, attempted_fallbacks,
        deployment_id, provider, model, prompt_tokens, completion_tokens, total_tokens, cache_read_input_tokens,
        cache_creation_input_tokens, spend, start_time, end_time, latency_ms, status, error_type, http_status,
        stream, usage_estimated, call_type)
      SELECT request_id, key_hash, key_alias, user_id, team_id, end_user, session_id, spend_logs_metadata, cache_hit, cache_key, request_tags,
        model_group, original_model_group, attempted_fallbacks, deployment_id, provider, model, prompt_tokens,
        completion_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, spend, start_time,
        end_time, latency_ms, status, error_type, http_status, stream, usage_estimated, call_type
      FROM input
      ON CONFLICT (request_id, start_time) DO NOTHING
      RETURNING request_id, start_time, key_hash, key_alias, team_id, model_group, provider, model, spend, prompt_tokens,
        completion_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, status,
        request_tags, end_user
    ),
    payloads AS (
      INSERT INTO accounting.spend_log_payloads (request_id, start_time, messages, response)
      SELECT input.request_id, input.start_time, coalesce(input.messages, ''), coalesce(input.response, '')
      FROM input JOIN booked USING (request_id, start_time)
      WHERE input.messages IS NOT NULL OR input.response IS NOT NULL
      ON CONFLICT DO NOTHING
    ),
    totals AS (
      INSERT INTO accounting.daily_spend AS d (day, key_hash, team_id, model_group, provider, model, ${CELL_COLUMNS})
      SELECT (start_time AT TIME ZONE 'UTC')::date, key_hash, team_id, model_group, provider, model, ${CELL_SUMS}
      FROM booked
      GROUP BY 1, 2, 3, 4, 5, 6
      ORDER BY 1, 2, 3, 4, 5, 6
      ON CONFLICT (day, key_hash, team_id, model_group, provider, model) DO UPDATE SET ${ADD_TO_CELL}
    ),
    entity_totals AS (
      INSERT INTO accounting.daily_entity_spend AS d (day, entity_type, entity, key_hash, team_id, model_group, provider, model, ${CELL_COLUMNS})
      SELECT (start_time AT TIME ZONE 'UTC')::date, e.entity_type, e.entity, key_hash, team_id, model_group, provider, model, ${CELL_SUMS}
      FROM booked CROSS JOIN LATERAL (
        SELECT 'tag', tag FROM jsonb_array_elements_text(booked.request_tags) AS t(tag)
        UNION ALL SELECT 'end_user', booked.end_user WHERE booked.end_user <> ''
      ) AS e(entity_type, entity)
      GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
      ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
      ON CONFLICT (day, entity_type, entity, key_hash, team_id, model_group, provider, model) DO UPDATE SET ${ADD_TO_CELL}
    )
    SELECT count(*)::int AS booked FROM booked`;
}

/** The ledger: usage events in; spend logs and per-key totals out. */
export class Ledger {
  readonly partitions: Partitions;

  constructor(
    private readonly db: Db,
    private readonly options: LedgerOptions = {},
  ) {
    this.partitions = new Partitions(db);
  }

  /**
   * Books events and returns how many were new. A request id already in the
   * ledger (a redelivery, a replay, a repeat within the batch) is left as
   * first booked, so booking is idempotent.
   */
  async record(events: UsageEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const records = firstOfEachRequest(events.map((event) => toLedgerRecord(event, this.options.storePrompts ?? false)));
    try {
      return await this.book(records);
    } catch (err) {
      // Another replica's retention dropped a partition this one remembers.
      if (pgErrorCode(err) !== NO_PARTITION) throw err;
      this.partitions.forget();
      return await this.book(records);
    }
  }

  private async book(records: LedgerRecord[]): Promise<number> {
    await this.partitions.ensure("spend_logs", records.map(recordDay));
    const withPayload = records.filter((r) => r.messages !== null || r.response !== null);
    if (withPayload.length > 0) await this.partitions.ensure("spend_log_payloads", withPayload.map(recordDay));
    // A named statement: each connection has Postgres parse and plan it once,
    // not once per batch, and a batch is one round trip instead of two
    // (drizzle's execute() sends an unnamed statement and waits for its description).
    const statement = this.db._.session.prepareQuery(dialect.sqlToQuery(bookStatement(records)), undefined, BOOK_STATEMENT, false);
    const [row] = rowsOf<{ booked: number }>(await statement.execute());
    return row?.booked ?? 0;
  }

  /** Newest first; request id breaks ties so pages never overlap. */
  async list(filters: SpendLogFilters): Promise<UsageEvent[]> {
    const rows = await this.db
      .select({ log: spendLogs, payload: { messages: spendLogPayloads.messages, response: spendLogPayloads.response } })
      .from(spendLogs)
      .leftJoin(spendLogPayloads, and(eq(spendLogPayloads.requestId, spendLogs.requestId), eq(spendLogPayloads.startTime, spendLogs.startTime)))
      .where(matching(filters))
      .orderBy(desc(spendLogs.startTime), desc(spendLogs.requestId))
      .limit(filters.limit ?? DEFAULT_LIST_LIMIT)
      .offset(filters.offset ?? 0);
    return rows.map((row) => toUsageEvent(row.log, row.payload ?? undefined));
  }

  /** Spend per UTC day, key, user and model of the rows the filters match (not paged), by day. */
  async spendByDay(filters: SpendLogFilters): Promise<SpendLogDayRow[]> {
    const day = sql<string>`to_char((${spendLogs.startTime} AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')`;
    return this.db
      .select({ day, keyHash: spendLogs.keyHash, userId: spendLogs.userId, model: spendLogs.model, spend: sql<number>`sum(${spendLogs.spend})`.mapWith(Number) })
      .from(spendLogs)
      .where(matching(filters))
      .groupBy(day, spendLogs.keyHash, spendLogs.userId, spendLogs.model)
      .orderBy(day, spendLogs.keyHash, spendLogs.userId, spendLogs.model);
  }

  /**
   * Spend and requests per request tag of the rows started within the
   * bounds, highest spend first (then by tag). A row counts once under each
   * of its tags; a row without tags counts under none. Read from the ledger
   * rows, for bounds finer than a day, so days that retention has dropped
   * are not counted; bounding start_time lets Postgres skip the partitions
   * outside the range. Unbounded, SpendReports.tagTotals reads the daily
   * totals instead.
   */
  async spendByTag(bounds: Pick<SpendLogFilters, "startMs" | "endMs">): Promise<TagSpendRow[]> {
    const tag = sql<string>`tag`;
    const spend = sql<number>`sum(${spendLogs.spend})`.mapWith(Number);
    return this.db
      .select({ tag, requests: sql<number>`count(*)`.mapWith(Number), spend })
      .from(spendLogs)
      .crossJoinLateral(sql`jsonb_array_elements_text(${spendLogs.requestTags}) AS t(tag)`)
      .where(matching(bounds))
      .groupBy(tag)
      .orderBy(desc(spend), tag);
  }

  /**
   * All-time spend per key hash, from the daily totals: a few rows per key
   * and day instead of one per request, and unaffected by retention.
   */
  spendByKey(keyHashes: string[]): Promise<Map<string, number>> {
    return this.spendPer(dailySpend, dailySpend.keyHash, keyHashes);
  }

  /** What every request booked with each team id cost, from the daily totals. */
  spendByTeam(teamIds: string[]): Promise<Map<string, number>> {
    return this.spendPer(dailySpend, dailySpend.teamId, teamIds);
  }

  /**
   * What every request booked with each end user cost, from the end users'
   * daily totals (unaffected by retention). '' names no end user and is
   * always 0.
   */
  async spendByEndUser(endUsers: string[]): Promise<Map<string, number>> {
    const named = endUsers.filter((endUser) => endUser !== "");
    const spend = await this.spendPer(dailyEntitySpend, dailyEntitySpend.entity, named, eq(dailyEntitySpend.entityType, "end_user"));
    return new Map(endUsers.map((endUser) => [endUser, spend.get(endUser) ?? 0]));
  }

  /** Spend summed per value of `column` in `table`, 0 for a value with none. */
  private async spendPer(table: typeof dailySpend | typeof dailyEntitySpend, column: PgColumn, values: string[], where?: SQL): Promise<Map<string, number>> {
    const spend = new Map(values.map((value) => [value, 0]));
    if (values.length === 0) return spend;
    const rows = await this.db
      .select({ value: sql<string>`${column}`, total: sql<number>`sum(${table.spend})`.mapWith(Number) })
      .from(table)
      .where(and(inArray(column, values), where))
      .groupBy(column);
    for (const row of rows) spend.set(row.value, row.total);
    return spend;
  }
}

/** The ledger rows a filter matches: all of its conditions. */
function matching(filters: SpendLogFilters): SQL | undefined {
  const where: SQL[] = [];
  if (filters.keyHash !== undefined) where.push(eq(spendLogs.keyHash, filters.keyHash));
  if (filters.requestId !== undefined) where.push(eq(spendLogs.requestId, filters.requestId));
  if (filters.userId !== undefined) where.push(eq(spendLogs.userId, filters.userId));
  if (filters.sessionId !== undefined) where.push(eq(spendLogs.sessionId, filters.sessionId));
  if (filters.startMs !== undefined) where.push(gte(spendLogs.startTime, new Date(filters.startMs)));
  if (filters.endMs !== undefined) where.push(lte(spendLogs.startTime, new Date(filters.endMs)));
  return and(...where);
}

function recordDay(record: LedgerRecord): number {
  return dayOf(record.start_time);
}

/**
 * One record per request id, the first one seen, in (start time, request id)
 * order: concurrent batches then take the rows' index locks in the same order.
 */
function firstOfEachRequest(records: LedgerRecord[]): LedgerRecord[] {
  const byId = new Map<string, LedgerRecord>();
  for (const record of records) if (!byId.has(record.request_id)) byId.set(record.request_id, record);
  return [...byId.values()].sort((a, b) => a.start_time - b.start_time || (a.request_id < b.request_id ? -1 : 1));
}
