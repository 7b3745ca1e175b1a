import { sql } from "drizzle-orm";
import { bigint, boolean, date, doublePrecision, index, integer, jsonb, pgSchema, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const accounting = pgSchema("accounting");

/**
 * The ledger: one row per request that reached the router. Partitioned by
 * day of start_time (the migration says PARTITION BY RANGE, which drizzle
 * cannot); partitions are made by partitions.ts as days arrive and dropped
 * by retention.ts.
 *
 * The primary key is (request_id, start_time) because a partitioned table's
 * unique keys must hold the partition key. That still makes booking
 * idempotent on the request id alone: the router stamps start_time once, in
 * the event it publishes, and every redelivery or outbox replay carries the
 * same bytes, so a repeat always lands in the same partition with the same
 * key and hits the conflict.
 */
export const spendLogs = accounting.table(
  "spend_logs",
  {
    requestId: text("request_id").notNull(),
    keyHash: text("key_hash").notNull(),
    keyAlias: text("key_alias").notNull(),
    userId: text("user_id").notNull(),
    teamId: text("team_id").notNull(),
    /** The end user (LiteLLM's customer) the request was made for; '' when none was named. */
    endUser: text("end_user").notNull().default(""),
    /** The session the client grouped the request in (LiteLLM's session_id); '' when none was named. */
    sessionId: text("session_id").notNull().default(""),
    /** What the client asked to keep with the row (LiteLLM's spend_logs_metadata); {} when nothing. */
    spendLogsMetadata: jsonb("spend_logs_metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** Answered from the gateway's response cache: no provider call, spend 0. */
    cacheHit: boolean("cache_hit").notNull().default(false),
    /** The response cache's key for the request; '' when the cache was not looked at. */
    cacheKey: text("cache_key").notNull().default(""),
    /** The request's tags (LiteLLM's request_tags), each once: a JSON array of strings, [] when none. */
    requestTags: jsonb("request_tags").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** The group that answered (or was tried last); the requested name is originalModelGroup. */
    modelGroup: text("model_group").notNull(),
    originalModelGroup: text("original_model_group").notNull().default(""),
    attemptedFallbacks: integer("attempted_fallbacks").notNull().default(0),
    deploymentId: text("deployment_id").notNull(),
    provider: text("provider").notNull(),
    /** The provider's model name (UsageEvent.provider_model). */
    model: text("model").notNull(),
    promptTokens: integer("prompt_tokens").notNull(),
    completionTokens: integer("completion_tokens").notNull(),
    totalTokens: integer("total_tokens").notNull(),
    /** Of prompt_tokens, those read from and written to the provider's prompt cache; 0 in rows booked before they were kept. */
    cacheReadInputTokens: integer("cache_read_input_tokens").notNull().default(0),
    cacheCreationInputTokens: integer("cache_creation_input_tokens").notNull().default(0),
    /** US dollars (UsageEvent.cost). */
    spend: doublePrecision("spend").notNull(),
    // start_time is the ledger's time axis (partitions, filters, ordering,
    // indexes), so it is required; end_time is only reported.
    startTime: timestamp("start_time", { withTimezone: true }).notNull(),
    endTime: timestamp("end_time", { withTimezone: true }),
    latencyMs: doublePrecision("latency_ms").notNull(),
    status: text("status", { enum: ["success", "failure"] }).notNull(),
    errorType: text("error_type").notNull(),
    httpStatus: integer("http_status").notNull(),
    stream: boolean("stream").notNull(),
    usageEstimated: boolean("usage_estimated").notNull(),
    callType: text("call_type").notNull(),
  },
  (t) => [
    primaryKey({ name: "spend_logs_pkey", columns: [t.requestId, t.startTime] }),
    index("spend_logs_key_hash_start_time_idx").on(t.keyHash, t.startTime),
    index("spend_logs_start_time_idx").on(t.startTime),
    // Only the rows that name an end user: most name none.
    index("spend_logs_end_user_start_time_idx").on(t.endUser, t.startTime).where(sql`${t.endUser} <> ''`),
    // Likewise for sessions.
    index("spend_logs_session_id_start_time_idx").on(t.sessionId, t.startTime).where(sql`${t.sessionId} <> ''`),
  ],
);

export type SpendLogRow = typeof spendLogs.$inferSelect;

/**
 * Prompts and responses, kept apart from the ledger so that the ledger stays
 * narrow and they can be dropped sooner (their own retention). Written only
 * when general_settings.store_prompts_in_spend_logs is on; partitioned by day
 * like spend_logs.
 */
export const spendLogPayloads = accounting.table(
  "spend_log_payloads",
  {
    requestId: text("request_id").notNull(),
    startTime: timestamp("start_time", { withTimezone: true }).notNull(),
    messages: text("messages").notNull(),
    response: text("response").notNull(),
  },
  (t) => [primaryKey({ name: "spend_log_payloads_pkey", columns: [t.requestId, t.startTime] })],
);

/** What a daily total sums, for daily_spend and daily_entity_spend alike. */
const totalColumns = () => ({
  keyHash: text("key_hash").notNull(),
  teamId: text("team_id").notNull(),
  modelGroup: text("model_group").notNull(),
  /** The deployment's provider and the provider's model name, as in the ledger; '' in cells booked before they were kept. */
  provider: text("provider").notNull().default(""),
  model: text("model").notNull().default(""),
  /** The key's alias in the latest row booked for this cell. */
  keyAlias: text("key_alias").notNull(),
  spend: doublePrecision("spend").notNull(),
  promptTokens: bigint("prompt_tokens", { mode: "number" }).notNull(),
  completionTokens: bigint("completion_tokens", { mode: "number" }).notNull(),
  totalTokens: bigint("total_tokens", { mode: "number" }).notNull(),
  cacheReadInputTokens: bigint("cache_read_input_tokens", { mode: "number" }).notNull().default(0),
  cacheCreationInputTokens: bigint("cache_creation_input_tokens", { mode: "number" }).notNull().default(0),
  requests: bigint("requests", { mode: "number" }).notNull(),
  failedRequests: bigint("failed_requests", { mode: "number" }).notNull(),
});

/**
 * Spend per UTC day, key, team, model group, provider and model, updated in the same statement
 * that books the rows. Kept for good (retention drops only spend logs), so a
 * key's all-time spend and the reports never scan the ledger.
 */
export const dailySpend = accounting.table(
  "daily_spend",
  {
    day: date("day", { mode: "string" }).notNull(),
    ...totalColumns(),
  },
  (t) => [
    primaryKey({ name: "daily_spend_pkey", columns: [t.day, t.keyHash, t.teamId, t.modelGroup, t.provider, t.model] }),
    index("daily_spend_key_hash_idx").on(t.keyHash),
  ],
);

/** What a request is counted under in daily_entity_spend besides its key. */
export const ENTITY_TYPES = ["tag", "end_user"] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/**
 * The daily totals again per request tag and per end user: a request counts
 * once under each of its tags and once under its end user (under none when
 * it has none). Updated in the same statement that books the rows, and kept
 * for good, as daily_spend.
 */
export const dailyEntitySpend = accounting.table(
  "daily_entity_spend",
  {
    day: date("day", { mode: "string" }).notNull(),
    entityType: text("entity_type", { enum: ENTITY_TYPES }).notNull(),
    entity: text("entity").notNull(),
    ...totalColumns(),
  },
  (t) => [
    primaryKey({ name: "daily_entity_spend_pkey", columns: [t.day, t.entityType, t.entity, t.keyHash, t.teamId, t.modelGroup, t.provider, t.model] }),
    index("daily_entity_spend_entity_idx").on(t.entityType, t.entity),
  ],
);
