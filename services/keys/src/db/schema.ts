import { sql } from "drizzle-orm";
import { bigint, boolean, doublePrecision, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

export const keys = pgSchema("keys");

/** The limit columns keys, teams, users and customers share (LimitColumns in limit-holder.ts). */
const limitColumns = () => ({
  maxBudget: doublePrecision("max_budget"),
  budgetDuration: text("budget_duration").notNull().default(""),
  rpmLimit: integer("rpm_limit"),
  tpmLimit: integer("tpm_limit"),
  maxParallelRequests: integer("max_parallel_requests"),
});

/** When a row was made and last changed. */
const timestamps = () => ({
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Virtual keys. A key is found by the sha256 of the key (the key itself is
 * never stored); limits hang off the stable id, so regenerating a key keeps
 * what it has spent.
 */
export const virtualKeys = keys.table("virtual_keys", {
  id: text("id").primaryKey(),
  keyHash: text("key_hash").notNull().unique(),
  /** The hashes the key had before it was regenerated: the ledger keeps its earlier spend under them. */
  previousKeyHashes: text("previous_key_hashes").array().notNull().default(sql`'{}'::text[]`),
  keyName: text("key_name").notNull(),
  keyAlias: text("key_alias").unique(),
  models: text("models").array().notNull().default(sql`'{}'::text[]`),
  ...limitColumns(),
  expiresAt: timestamp("expires_at", { withTimezone: true }),
  metadata: jsonb("metadata").notNull().default({}),
  userId: text("user_id").notNull().default(""),
  teamId: text("team_id").notNull().default(""),
  blocked: boolean("blocked").notNull().default(false),
  /** LiteLLM's allowed_routes: the edge routes (or route groups) the key may call; empty: every route. */
  allowedRoutes: text("allowed_routes").array().notNull().default(sql`'{}'::text[]`),
  /** LiteLLM's aliases: { name: model group } for the key's requests. */
  aliases: jsonb("aliases").$type<Record<string, string>>().notNull().default({}),
  /** LiteLLM's model_rpm_limit and model_tpm_limit: { model group: requests or tokens a minute }. */
  modelRpmLimit: jsonb("model_rpm_limit").$type<Record<string, number>>().notNull().default({}),
  modelTpmLimit: jsonb("model_tpm_limit").$type<Record<string, number>>().notNull().default({}),
  /** LiteLLM's model_max_budget: { model group: { budget_limit (dollars), time_period ("" for good) } }. */
  modelMaxBudget: jsonb("model_max_budget").$type<Record<string, ModelBudgetColumn>>().notNull().default({}),
  /** LiteLLM's organization_id: the organization whose limits the key is held to (a team's key, its team's); deleted with it. */
  organizationId: text("organization_id").references(() => organizations.organizationId, { onDelete: "restrict" }),
  /** LiteLLM's soft_budget: dollars past which the key is reported, not refused. */
  softBudget: doublePrecision("soft_budget"),
  /**
   * Dollars a key without a budget shows as spent beyond its ledger rows:
   * LiteLLM's `spend` set on /key/generate or /key/update (say, a key moved
   * over with what it had spent), kept as the difference from the ledger.
   */
  spendOffset: doublePrecision("spend_offset").notNull().default(0),
  ...timestamps(),
});

/** One entry of model_max_budget, as LiteLLM names its fields. */
export interface ModelBudgetColumn {
  budget_limit: number;
  time_period: string;
}

/**
 * How much of a limit the keys replicas have taken for one window: dollars
 * of a budget period, requests or tokens of a rate-limit minute, parallel
 * slots. A replica takes allowance in chunks with one conditional update
 * (granted + chunk <= limit), spends it from memory, and gives back what it
 * did not use; so the sum over replicas never passes the limit.
 */
export const allowances = keys.table(
  "allowances",
  {
    keyId: text("key_id").notNull(),
    kind: text("kind", { enum: ["budget", "requests", "tokens", "parallel"] }).notNull(),
    /** Start of the window, unix ms; 0 for limits without one. */
    windowStart: bigint("window_start", { mode: "number" }).notNull(),
    granted: doublePrecision("granted").notNull().default(0),
    /**
     * Budget rows: dollars the window's settled requests cost, part of
     * `granted` (which also holds reservations and replicas' unused takes).
     */
    spend: doublePrecision("spend").notNull().default(0),
    /**
     * Budget rows: the window the holder's budget moved to (a change of its
     * budget period), which the spend that still settles here is added to too.
     */
    carriedTo: bigint("carried_to", { mode: "number" }),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.kind, t.windowStart] })],
);

/**
 * The keys replicas alive, each renewing its row every few seconds. A
 * replica whose row has lapsed (killed, say) is taken for dead: any replica
 * gives back the parallel slots it held (parallelHolds).
 */
export const holders = keys.table("holders", {
  holder: text("holder").primaryKey(),
  aliveUntil: timestamp("alive_until", { withTimezone: true }).notNull(),
});

/**
 * Each budget spend writer's (one per process) last write of spend to
 * allowances: a write tried again after its connection closed is made only
 * if it was not already (firstMaking). A row per process started, left
 * behind when it stops.
 */
export const spendWriters = keys.table("spend_writers", {
  writer: text("writer").primaryKey(),
  seq: bigint("seq", { mode: "number" }).notNull(),
});

/**
 * The takes, charges and give-backs of allowances made, by operation id: one
 * tried again after its connection closed is made only if it was not
 * already, and a take whose answer was lost can be asked about
 * (allowance-ops.ts in common). Rows older than a day are deleted.
 */
export const allowanceOps = keys.table(
  "allowance_ops",
  {
    op: uuid("op").primaryKey(),
    madeAt: timestamp("made_at", { withTimezone: true }).notNull().defaultNow(),
    /** Recorded by a question whether a take was made (appliedOp), not by the take: asked again after its answer was lost, the answer stays "not made". */
    fence: boolean("fence").notNull().default(false),
  },
  // The ten-minute sweep deletes by age: without it, a scan of a day of operations each time.
  (t) => [index("allowance_ops_made_at_idx").on(t.madeAt)],
);

/**
 * Each replica's part of the parallel-slot allowances (kind "parallel",
 * which has no window to end): what it took and has not given back, so
 * that a dead replica's part can be given back for it.
 */
export const parallelHolds = keys.table(
  "parallel_holds",
  {
    holder: text("holder").notNull(),
    keyId: text("key_id").notNull(),
    held: doublePrecision("held").notNull(),
  },
  (t) => [primaryKey({ columns: [t.holder, t.keyId] })],
);

/**
 * Organizations (LiteLLM's). A team whose organization_id names one is held
 * to its block and models, and its teams' keys share its budget and rate
 * limits (allowances under "organization/" + its id and creation time).
 */
export const organizations = keys.table("organizations", {
  organizationId: text("organization_id").primaryKey(),
  organizationAlias: text("organization_alias").notNull(),
  models: text("models").array().notNull().default(sql`'{}'::text[]`),
  ...limitColumns(),
  metadata: jsonb("metadata").notNull().default({}),
  /** [{ user_id, user_email, user_role, max_budget_in_organization }]. */
  members: jsonb("members").notNull().default([]),
  /** No member's stamp (added_at_ms) given so far is later: the next is later still (member-generation.ts). */
  memberStampMs: bigint("member_stamp_ms", { mode: "number" }),
  blocked: boolean("blocked").notNull().default(false),
  /** As a customer's: the budget whose limits the organization takes for those it leaves unset. */
  budgetId: text("budget_id").references(() => budgets.budgetId, { onDelete: "restrict" }),
  ...timestamps(),
});

/**
 * Teams (LiteLLM's). A key whose team_id names a team shares the team's
 * budget and rate limits (allowances under "team/" + the team's id and
 * creation time) and may use only the team's models, on top of its own limits.
 */
export const teams = keys.table("teams", {
  teamId: text("team_id").primaryKey(),
  teamAlias: text("team_alias"),
  models: text("models").array().notNull().default(sql`'{}'::text[]`),
  ...limitColumns(),
  metadata: jsonb("metadata").notNull().default({}),
  /** LiteLLM's members_with_roles: [{ role, user_id, user_email }]. */
  membersWithRoles: jsonb("members_with_roles").notNull().default([]),
  /** As an organization's. */
  memberStampMs: bigint("member_stamp_ms", { mode: "number" }),
  blocked: boolean("blocked").notNull().default(false),
  /** LiteLLM's model_aliases: { name: model group } for the team's keys' requests. */
  modelAliases: jsonb("model_aliases").$type<Record<string, string>>().notNull().default({}),
  /** The organization the team belongs to; an organization with teams is deleted with them. */
  organizationId: text("organization_id").references(() => organizations.organizationId, { onDelete: "restrict" }),
  /** LiteLLM's model_rpm_limit and model_tpm_limit: { model group: requests or tokens a minute } over all the team's keys. */
  modelRpmLimit: jsonb("model_rpm_limit").$type<Record<string, number>>().notNull().default({}),
  modelTpmLimit: jsonb("model_tpm_limit").$type<Record<string, number>>().notNull().default({}),
  /** LiteLLM's model_max_budget, as a key's, over all the team's keys. */
  modelMaxBudget: jsonb("model_max_budget").$type<Record<string, ModelBudgetColumn>>().notNull().default({}),
  /**
   * LiteLLM's team_member_budget (and its _duration), team_member_rpm_limit
   * and team_member_tpm_limit: what each member (by user_id) is held to in
   * the team unless its membership sets its own.
   */
  memberBudget: doublePrecision("member_budget"),
  memberBudgetDuration: text("member_budget_duration").notNull().default(""),
  memberRpmLimit: integer("member_rpm_limit"),
  memberTpmLimit: integer("member_tpm_limit"),
  /** LiteLLM's team_member_key_duration: how long a key made in the team for a user lives, unless it says. */
  memberKeyDuration: text("member_key_duration").notNull().default(""),
  ...timestamps(),
});

/**
 * Users (LiteLLM's internal users). A key whose user_id names a user shares
 * the user's rate limits, and outside a team its budget (allowances under
 * "user/" + the user's id and creation time).
 */
export const users = keys.table(
  "users",
  {
    userId: text("user_id").primaryKey(),
    userAlias: text("user_alias"),
    userEmail: text("user_email"),
    userRole: text("user_role").notNull().default("internal_user"),
    models: text("models").array().notNull().default(sql`'{}'::text[]`),
    ...limitColumns(),
    metadata: jsonb("metadata").notNull().default({}),
    ...timestamps(),
  },
  // One user per email, whatever its case, as LiteLLM checks.
  (t) => [uniqueIndex("users_email_lower_idx").on(sql`lower(${t.userEmail})`)],
);

/**
 * Budgets (LiteLLM's budget table): limits customers share by naming one
 * (a pricing tier); each customer is held to them on its own.
 */
export const budgets = keys.table("budgets", {
  budgetId: text("budget_id").primaryKey(),
  ...limitColumns(),
  softBudget: doublePrecision("soft_budget"),
  ...timestamps(),
});

/**
 * Customers (LiteLLM's end users): a request that names one as its end user
 * is held to its block, budget and rate limits (allowances under
 * "customer/" + its id and creation time), whichever key makes it.
 */
export const customers = keys.table("customers", {
  userId: text("user_id").primaryKey(),
  alias: text("alias"),
  blocked: boolean("blocked").notNull().default(false),
  ...limitColumns(),
  /** The budget whose limits the customer takes for those it leaves unset; a budget named by a customer cannot be deleted. */
  budgetId: text("budget_id").references(() => budgets.budgetId, { onDelete: "restrict" }),
  allowedModelRegion: text("allowed_model_region"),
  defaultModel: text("default_model"),
  ...timestamps(),
});

/**
 * Tags (LiteLLM's tag budgets): a request carrying one (its own tags, or its
 * key's or team's) is held to its budget and rate limits (allowances under
 * "tag/" + its name and creation time), whichever key makes it.
 */
export const tags = keys.table("tags", {
  name: text("name").primaryKey(),
  description: text("description"),
  models: text("models").array().notNull().default(sql`'{}'::text[]`),
  ...limitColumns(),
  softBudget: doublePrecision("soft_budget"),
  ...timestamps(),
});
