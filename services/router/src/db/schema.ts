import { bigint, doublePrecision, jsonb, pgSchema, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const router = pgSchema("router");

/**
 * Deployments added at runtime (POST /model/new), beside config.yaml's.
 * Params are stored as given: "os.environ/NAME" stays a reference, resolved
 * by each replica when it loads the model list.
 */
export const runtimeModels = router.table("runtime_models", {
  id: text("id").primaryKey(),
  modelName: text("model_name").notNull(),
  litellmParams: jsonb("litellm_params").$type<Record<string, unknown>>().notNull(),
  modelInfo: jsonb("model_info").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * How much of a deployment's rpm or tpm the router replicas have taken for
 * one minute: a replica takes a chunk with one conditional update
 * (granted + chunk <= limit) and admits calls from it in memory.
 */
export const deploymentAllowances = router.table(
  "deployment_allowances",
  {
    deploymentId: text("deployment_id").notNull(),
    kind: text("kind", { enum: ["requests", "tokens"] }).notNull(),
    /** Start of the minute, unix ms. */
    windowStart: bigint("window_start", { mode: "number" }).notNull(),
    granted: doublePrecision("granted").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.deploymentId, t.kind, t.windowStart] })],
);

/**
 * Budgets the router holds deployments to (router_settings.provider_budget_config,
 * litellm_params.max_budget): how much of one budget period the router
 * replicas have taken (nano-dollars; a replica takes a chunk with one
 * conditional update, granted + chunk <= limit, and reserves calls from it in
 * memory), and what the period's settled calls cost.
 */
export const budgetAllowances = router.table(
  "budget_allowances",
  {
    /** "provider/" + a provider's name, or "deployment/" + a deployment's id. */
    subject: text("subject").notNull(),
    /** Start of the budget period, unix ms. */
    windowStart: bigint("window_start", { mode: "number" }).notNull(),
    granted: doublePrecision("granted").notNull().default(0),
    /** Dollars. */
    spend: doublePrecision("spend").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.subject, t.windowStart] })],
);

/**
 * Batches (OpenAI's Batch API) whose cost has been booked: a finished batch
 * is booked by the first call that reads it finished, on whichever router
 * replica, and by no other.
 */
export const bookedBatches = router.table("booked_batches", {
  /** The deployment's id, "/", and the provider's id of the batch. */
  batch: text("batch").primaryKey(),
  bookedAt: timestamp("booked_at", { withTimezone: true }).notNull().defaultNow(),
});
