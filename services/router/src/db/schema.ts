import { bigint, boolean, doublePrecision, index, jsonb, pgSchema, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

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
 * Credentials stored with POST /credentials (LiteLLM's credential
 * management), beside config.yaml's credential_list: named sets of
 * litellm_params that models take by litellm_credential_name. Secret values
 * are sealed as runtime models' are.
 */
export const storedCredentials = router.table("credentials", {
  name: text("name").primaryKey(),
  credentialValues: jsonb("credential_values").$type<Record<string, unknown>>().notNull(),
  credentialInfo: jsonb("credential_info").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
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
 * Each budget spend writer's (one per process) last write of spend to
 * budget_allowances: a write tried again after its connection closed is
 * made only if it was not already (firstMaking). A row per process started,
 * left behind when it stops.
 */
export const budgetSpendWriters = router.table("budget_spend_writers", {
  writer: text("writer").primaryKey(),
  seq: bigint("seq", { mode: "number" }).notNull(),
});

/**
 * The takes, charges and give-backs of budget_allowances and
 * deployment_allowances made, by operation id (UUIDs, so the two never
 * meet): one tried again after its connection closed is made only if it
 * was not already, and a take whose answer was lost can be asked about
 * (allowance-ops.ts in common). Rows older than a day are deleted.
 */
export const budgetAllowanceOps = router.table(
  "budget_allowance_ops",
  {
    op: uuid("op").primaryKey(),
    madeAt: timestamp("made_at", { withTimezone: true }).notNull().defaultNow(),
    /** Recorded by a question whether a take was made (appliedOp), not by the take: asked again after its answer was lost, the answer stays "not made". */
    fence: boolean("fence").notNull().default(false),
  },
  // The ten-minute sweep deletes by age: without it, a scan of a day of operations each time.
  (t) => [index("budget_allowance_ops_made_at_idx").on(t.madeAt)],
);

/**
 * Batches (OpenAI's Batch API) whose cost has been booked: a finished batch
 * is booked by the first call that reads it finished, on whichever router
 * replica, and by no other. A row is claimed before that call's usage event
 * is written and confirmed once it is; a claim left unconfirmed (its router
 * died between the two) is booked from `recovery` (db/batch-bookings.ts).
 */
export const bookedBatches = router.table("booked_batches", {
  /** The deployment's id, "/", and the provider's id of the batch. */
  batch: text("batch").primaryKey(),
  /** When it was claimed. */
  bookedAt: timestamp("booked_at", { withTimezone: true }).notNull().defaultNow(),
  /** The claiming call's usage event is written (rows from before claims were confirmed count as confirmed). */
  booked: boolean("booked").notNull().default(true),
  /** What the claiming call books for this batch, for its usage event should the call never write it; null once confirmed. */
  recovery: jsonb("recovery").$type<BookingRecovery>(),
});

/** One batch's booking, as the usage event of the call that claimed it carries it. */
export interface BookingRecovery {
  requestId: string;
  /** The call's start, unix ms: with the request id, what the ledger knows a row by. */
  startMs: number;
  keyHash: string;
  keyAlias: string;
  userId: string;
  teamId: string;
  endUser: string;
  requestTags: string[];
  modelGroup: string;
  deploymentId: string;
  provider: string;
  providerModel: string;
  callType: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cost: number;
}
