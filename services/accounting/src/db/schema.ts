import { boolean, doublePrecision, index, integer, pgSchema, text, timestamp } from "drizzle-orm/pg-core";

export const accounting = pgSchema("accounting");

/** The ledger: one row per request that reached the router, keyed by its request id. */
export const spendLogs = accounting.table(
  "spend_logs",
  {
    requestId: text("request_id").primaryKey(),
    keyHash: text("key_hash").notNull(),
    keyAlias: text("key_alias").notNull(),
    userId: text("user_id").notNull(),
    teamId: text("team_id").notNull(),
    modelGroup: text("model_group").notNull(),
    deploymentId: text("deployment_id").notNull(),
    provider: text("provider").notNull(),
    /** The provider's model name (UsageEvent.provider_model). */
    model: text("model").notNull(),
    promptTokens: integer("prompt_tokens").notNull(),
    completionTokens: integer("completion_tokens").notNull(),
    totalTokens: integer("total_tokens").notNull(),
    /** US dollars (UsageEvent.cost). */
    spend: doublePrecision("spend").notNull(),
    // start_time is the ledger's time axis (filters, ordering, indexes), so
    // it is required; end_time is only reported.
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
    index("spend_logs_key_hash_start_time_idx").on(t.keyHash, t.startTime),
    index("spend_logs_start_time_idx").on(t.startTime),
  ],
);

export type SpendLogRow = typeof spendLogs.$inferSelect;
