import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { entryObject, gatewayError, objectEntries } from "@gateway/common";
import type { KeyRefSchema, KeySettingsSchema, VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, callerOf, intParam, pathSegment, queryOf, sendJson } from "../http.js";
import {
  ALIAS_MAP,
  bad,
  body,
  callOptions,
  changesBudgetWindow,
  eachUpdated,
  isAliasMap,
  isBoolean,
  isNumber,
  iso,
  isString,
  isStrings,
  keysChanged,
  ledgerSpend,
  modelBudgets,
  modelBudgetsJson,
  modelCounts,
  optional,
  organizationField,
  sharedSettings,
  unlessMissing,
  type Json,
} from "./admin-request.js";

// LiteLLM's key management routes (/key/*).

// /key/list's pages, as LiteLLM bounds them (the keys service cuts larger ones to this size too); page is a uint32 in the RPC.
export const MAX_KEY_PAGE_SIZE = 100;
const MAX_KEY_PAGE = 2 ** 32 - 1;

/** A key named by value or by hash, as LiteLLM's routes accept either. */
export function keyRef(value: unknown, param = "key"): MessageInitShape<typeof KeyRefSchema> {
  if (typeof value !== "string" || value === "") throw bad(`${param} is required`, param);
  return /^[0-9a-f]{64}$/.test(value) ? { ref: { case: "keyHash", value } } : { ref: { case: "key", value } };
}

const CLEARABLE = [
  "key_alias",
  "max_budget",
  "budget_duration",
  "duration",
  "rpm_limit",
  "tpm_limit",
  "max_parallel_requests",
  "allowed_routes",
  "model_rpm_limit",
  "model_tpm_limit",
  "model_max_budget",
  "soft_budget",
];

/** LiteLLM's key fields from a request body. */
function settings(b: Json): MessageInitShape<typeof KeySettingsSchema> {
  const s: MessageInitShape<typeof KeySettingsSchema> = sharedSettings(b);
  const alias = optional(b, "key_alias", isString, "a string");
  if (alias !== undefined) s.keyAlias = alias;
  // LiteLLM's older "-1" for a key that never expires, as null is now.
  const neverExpires = b["duration"] === "-1";
  const duration = neverExpires ? undefined : optional(b, "duration", isString, 'a duration such as "30d"');
  if (duration !== undefined) s.duration = duration;
  const userId = optional(b, "user_id", isString, "a string");
  if (userId !== undefined) s.userId = userId;
  const teamId = optional(b, "team_id", isString, "a string");
  if (teamId !== undefined) s.teamId = teamId;
  const organization = organizationField(b);
  if (organization !== undefined) s.organizationId = organization;
  const routes = optional(b, "allowed_routes", isStrings, "a list of routes");
  if (routes !== undefined) s.allowedRoutes = { routes };
  const aliases = optional(b, "aliases", isAliasMap, ALIAS_MAP);
  if (aliases !== undefined) s.aliases = { aliases: objectEntries(aliases) };
  const rpm = modelCounts(b, "model_rpm_limit");
  if (rpm !== undefined) s.modelRpmLimit = { counts: objectEntries(rpm) };
  const tpm = modelCounts(b, "model_tpm_limit");
  if (tpm !== undefined) s.modelTpmLimit = { counts: objectEntries(tpm) };
  const budgets = modelBudgets(b);
  if (budgets !== undefined) s.modelMaxBudget = budgets;
  const blocked = optional(b, "blocked", isBoolean, "true or false");
  if (blocked !== undefined) s.blocked = blocked;
  const softBudget = optional(b, "soft_budget", isNumber, "a number of dollars");
  if (softBudget !== undefined) s.softBudget = softBudget;
  const spend = optional(b, "spend", isNumber, "a number of dollars");
  if (spend !== undefined) s.spend = spend;
  // LiteLLM takes null as "remove this limit".
  s.clear = CLEARABLE.filter((field) => b[field] === null || (field === "duration" && neverExpires));
  return s;
}

// LiteLLM's key_type on /key/generate: the route group a key is made for,
// as its allowed_routes (over any given); "default" leaves them as given.
const KEY_TYPE_ROUTES: Record<string, string[] | undefined> = {
  default: undefined,
  llm_api: ["llm_api_routes"],
  management: ["management_routes"],
  read_only: ["info_routes"],
};

function withKeyType(b: Json, s: MessageInitShape<typeof KeySettingsSchema>): MessageInitShape<typeof KeySettingsSchema> {
  const keyType = optional(b, "key_type", (v): v is string => isString(v) && Object.hasOwn(KEY_TYPE_ROUTES, v), `one of ${Object.keys(KEY_TYPE_ROUTES).join(", ")}`);
  const routes = keyType === undefined ? undefined : KEY_TYPE_ROUTES[keyType];
  if (routes !== undefined) s.allowedRoutes = { routes };
  return s;
}

/** A key in LiteLLM's response shape ("token" is the hash; the key itself is never stored). */
export function keyInfo(k: VirtualKey, spend: number) {
  return {
    token: k.keyHash,
    key_name: k.keyName,
    key_alias: k.keyAlias || null,
    models: k.models,
    max_budget: k.maxBudget ?? null,
    budget_duration: k.budgetDuration || null,
    budget_reset_at: iso(k.budgetResetAtMs),
    expires: iso(k.expiresAtMs),
    rpm_limit: k.rpmLimit ?? null,
    tpm_limit: k.tpmLimit ?? null,
    max_parallel_requests: k.maxParallelRequests ?? null,
    metadata: JSON.parse(k.metadataJson || "{}") as unknown,
    user_id: k.userId || null,
    team_id: k.teamId || null,
    organization_id: k.organizationId || null,
    allowed_routes: k.allowedRoutes,
    aliases: entryObject(k.aliases),
    model_rpm_limit: entryObject(k.modelRpmLimit),
    model_tpm_limit: entryObject(k.modelTpmLimit),
    model_max_budget: modelBudgetsJson(k.modelMaxBudget),
    blocked: k.blocked,
    soft_budget: k.softBudget ?? null,
    spend,
    created_at: iso(k.createdAtMs),
    updated_at: iso(k.updatedAtMs),
  };
}

/**
 * What each key has spent: for a key with a budget, its budget period's, as
 * the keys service holds the budget to it; otherwise the ledger's, over
 * every hash the key has had (regenerating a key changes its hash), and the
 * difference a `spend` set on the key left (spend_offset). Asked
 * once the keys service has let the caller see the keys (a virtual key its
 * own).
 */
export async function spendOf(ctx: RequestContext, keys: VirtualKey[]): Promise<number[]> {
  const hashesOf = (k: VirtualKey) => [k.keyHash, ...k.previousKeyHashes];
  const ledger = await ledgerSpend(ctx, "keyHashes", keys.filter((k) => k.spend === undefined).flatMap(hashesOf));
  return keys.map((k) => k.spend ?? hashesOf(k).reduce((sum, hash) => sum + (ledger.get(hash) ?? 0), k.spendOffset));
}

async function withSpend(ctx: RequestContext, key: VirtualKey) {
  const [spend] = await spendOf(ctx, [key]);
  return keyInfo(key, spend ?? 0);
}

/**
 * What a key shows as spent before a change that may move it to another
 * budget window (a budget set, cleared or given another period), or that
 * sets its spend: the keys service starts the new window from it, or keeps
 * the new spend's difference from it.
 */
async function spendBefore(ctx: RequestContext, b: Json, ref: MessageInitShape<typeof KeyRefSchema>): Promise<number | undefined> {
  if (!changesBudgetWindow(b) && !("spend" in b)) return undefined;
  const found = await unlessMissing(ctx.options.peers.keys.getKey({ ref }, callOptions(ctx)));
  return found && (await spendOf(ctx, [found.key!]))[0];
}

export async function generateKey(ctx: RequestContext): Promise<void> {
  await mint(ctx, await body(ctx));
}

/**
 * POST /key/service-account/generate: LiteLLM's service account key, a
 * team's key that belongs to no user (a user_id given is dropped), made by
 * an admin or the team's admin; team_id is required. Otherwise as
 * /key/generate.
 */
export async function generateServiceAccountKey(ctx: RequestContext): Promise<void> {
  await mint(ctx, { ...(await body(ctx)), user_id: null }, true);
}

async function mint(ctx: RequestContext, b: Json, serviceAccount = false): Promise<void> {
  const key = optional(b, "key", isString, "a string") ?? "";
  const givenParams = Object.keys(b).filter((field) => b[field] !== null);
  const minted = await ctx.options.peers.keys.generateKey({ settings: withKeyType(b, settings(b)), key, givenParams, serviceAccount }, callOptions(ctx));
  // A new key has no ledger rows: it shows what it was given as spent, if anything. LiteLLM names the hash token_id as well as token.
  const info = minted.info!;
  sendJson(ctx.res, 200, { key: minted.key, token_id: info.keyHash, ...keyInfo(info, info.spend ?? info.spendOffset) });
}

/** One key's /key/update: the key as it is after. */
async function updated(ctx: RequestContext, b: Json) {
  const ref = keyRef(b["key"]);
  const update = { ref, settings: settings(b), spendBefore: await spendBefore(ctx, b, ref) };
  const { key } = await ctx.options.peers.keys.updateKey(update, callOptions(ctx));
  keysChanged(ctx);
  return withSpend(ctx, key!);
}

export async function updateKey(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  sendJson(ctx.res, 200, { key: b["key"], ...(await updated(ctx, b)) });
}

/**
 * POST /key/bulk_update, LiteLLM's: { "keys": [{ "key", ...what /key/update
 * takes }] }, each updated as /key/update updates it, one after another; a
 * key that cannot be is listed with why, and the others still are.
 */
export async function bulkUpdateKeys(ctx: RequestContext): Promise<void> {
  const outcomes = await eachUpdated(ctx, "keys", '{"key", ...fields to update}', (entry) => updated(ctx, entry));
  sendJson(ctx.res, 200, {
    total_requested: outcomes.length,
    successful_updates: outcomes.flatMap((o) => ("updated" in o ? [{ key: o.entry["key"], key_info: o.updated }] : [])),
    failed_updates: outcomes.flatMap((o) => ("failure" in o ? [{ key: o.entry["key"], key_info: null, failed_reason: o.failure }] : [])),
  });
}

/** Without ?key=, the caller's own key, as in LiteLLM (which then names it by its hash). */
export async function keyInfoRoute(ctx: RequestContext): Promise<void> {
  const param = queryOf(ctx.req).get("key") ?? "";
  const own = apiKeyOf(ctx);
  // No key at all is the keys service's 401 to give.
  const ref = param !== "" ? keyRef(param) : own !== "" ? keyRef(own) : undefined;
  const { key } = await ctx.options.peers.keys.getKey({ ref }, callOptions(ctx));
  sendJson(ctx.res, 200, { key: param || key!.keyHash, info: await withSpend(ctx, key!) });
}

/**
 * POST /v2/key/info { keys: [key or hash, …] }: each key's info that the
 * caller may see, as /key/info gives it; 404 when it may see none of them.
 */
export async function keysInfoRoute(ctx: RequestContext): Promise<void> {
  const keys = optional(await body(ctx), "keys", isStrings, "a list of keys or key hashes");
  if (keys === undefined || keys.length === 0) throw bad("keys is required: a list of keys or key hashes", "keys");
  if (keys.length > MAX_KEY_PAGE_SIZE) throw bad(`keys may name at most ${MAX_KEY_PAGE_SIZE} keys`, "keys");
  const found = (await Promise.all(keys.map((k) => unlessMissing(ctx.options.peers.keys.getKey({ ref: keyRef(k, "keys") }, callOptions(ctx)))))).flatMap((r) => (r ? [r.key!] : []));
  if (found.length === 0) throw gatewayError("No keys found", Code.NotFound, { type: "not_found_error", param: "keys" });
  const spend = await spendOf(ctx, found);
  sendJson(ctx.res, 200, { key: keys, info: found.map((k, i) => keyInfo(k, spend[i]!)) });
}

/**
 * LiteLLM's key_hash filter: the key with that hash, if the other filters
 * let it through, or none.
 */
async function keyByHash(ctx: RequestContext, keyHash: string, q: URLSearchParams): Promise<VirtualKey[]> {
  const found = await ctx.options.peers.keys.getKey({ ref: { ref: { case: "keyHash", value: keyHash } } }, callOptions(ctx)).catch((err: unknown) => {
    if (ConnectError.from(err).code === Code.NotFound) return undefined;
    throw err;
  });
  const k = found?.key;
  const matches = (param: string, value: string) => !q.get(param) || q.get(param) === value;
  return k && matches("user_id", k.userId) && matches("team_id", k.teamId) && matches("key_alias", k.keyAlias) && matches("organization_id", k.organizationId) ? [k] : [];
}

export async function listKeys(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  // LiteLLM's bounds: a larger page would be cut short by the keys service, and total_pages would skip keys.
  const page = intParam(ctx, "page", 1, MAX_KEY_PAGE, 1);
  const size = intParam(ctx, "size", 10, MAX_KEY_PAGE_SIZE, 1);
  // LiteLLM's status=deleted lists deleted keys, which are not kept here.
  const status = q.get("status");
  if (status !== null) throw bad(status === "deleted" ? "deleted keys are not kept, so status=deleted lists nothing here" : "status must be deleted", "status");
  const keyHash = q.get("key_hash") ?? "";
  const { keys, totalCount } = keyHash
    ? await keyByHash(ctx, keyHash, q).then((found) => ({ keys: page === 1 ? found : [], totalCount: found.length }))
    : await ctx.options.peers.keys.listKeys(
        {
          page,
          size,
          userId: q.get("user_id") ?? "",
          teamId: q.get("team_id") ?? "",
          keyAlias: q.get("key_alias") ?? "",
          organizationId: q.get("organization_id") ?? "",
          sortBy: q.get("sort_by") ?? "",
          sortOrder: q.get("sort_order") ?? "",
        },
        callOptions(ctx),
      );
  const full = q.get("return_full_object") === "true";
  const spend = full ? await spendOf(ctx, keys) : [];
  sendJson(ctx.res, 200, {
    keys: full ? keys.map((k, i) => keyInfo(k, spend[i] ?? 0)) : keys.map((k) => k.keyHash),
    total_count: totalCount,
    current_page: page,
    total_pages: Math.ceil(totalCount / size),
  });
}

/** GET /key/aliases: the aliases of the keys /key/list would show the caller, in pages. */
export async function listKeyAliases(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  const page = intParam(ctx, "page", 1, MAX_KEY_PAGE, 1);
  const size = intParam(ctx, "size", 50, MAX_KEY_PAGE_SIZE, 1);
  const { aliases, totalCount } = await ctx.options.peers.keys.listKeyAliases(
    { page, size, search: q.get("search") ?? "", teamId: q.get("team_id") ?? "" },
    callOptions(ctx),
  );
  sendJson(ctx.res, 200, { aliases, total_count: totalCount, current_page: page, total_pages: Math.ceil(totalCount / size) });
}

export async function deleteKeys(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const keys = optional(b, "keys", isStrings, "a list of keys") ?? [];
  const aliases = optional(b, "key_aliases", isStrings, "a list of key aliases") ?? [];
  if (keys.length + aliases.length === 0) throw bad("give keys or key_aliases", "keys");
  const refs: MessageInitShape<typeof KeyRefSchema>[] = [
    ...keys.map((k) => keyRef(k, "keys")),
    ...aliases.map((a): MessageInitShape<typeof KeyRefSchema> => ({ ref: { case: "keyAlias", value: a } })),
  ];
  const { refFound } = await ctx.options.peers.keys.deleteKeys({ refs }, callOptions(ctx));
  keysChanged(ctx);
  // What was given and named a key; the rest named none (skipped, as LiteLLM skips them).
  sendJson(ctx.res, 200, { deleted_keys: [...keys, ...aliases].filter((_, i) => refFound[i]) });
}

export async function regenerateKey(ctx: RequestContext): Promise<void> {
  const b = ctx.req.headers["content-length"] === "0" ? {} : await body(ctx).catch(() => ({}) as Json);
  // POST /key/{key}/regenerate names the key in the path, POST /key/regenerate in the body.
  const fromPath = /^\/key\/(.+)\/regenerate$/.exec(ctx.path)?.[1];
  const ref = keyRef(fromPath ? pathSegment(fromPath) : b["key"]);
  const newKey = optional(b, "new_key", isString, "a string") ?? "";
  const minted = await ctx.options.peers.keys.regenerateKey({ ref, newKey, settings: settings(b), spendBefore: await spendBefore(ctx, b, ref) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { key: minted.key, token_id: minted.info!.keyHash, ...(await withSpend(ctx, minted.info!)) });
}

/**
 * POST /key/{key}/reset_spend, LiteLLM's: { "reset_to": dollars }, at most
 * what the key shows as spent and its max_budget; the key's spend from then
 * on, as /key/update's spend sets it (an admin's).
 */
export async function resetKeySpend(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const ref = keyRef(pathSegment(/^\/key\/(.+)\/reset_spend$/.exec(ctx.path)![1]!));
  const resetTo = b["reset_to"];
  if (!isNumber(resetTo)) throw bad("reset_to must be a number of dollars, 0 or more", "reset_to");
  const found = await ctx.options.peers.keys.getKey({ ref }, callOptions(ctx));
  const [previous = 0] = await spendOf(ctx, [found.key!]);
  if (resetTo > previous) throw bad(`reset_to (${resetTo}) must not exceed the key's current spend (${previous})`, "reset_to");
  const maxBudget = found.key!.maxBudget;
  if (maxBudget !== undefined && resetTo > maxBudget) throw bad(`reset_to (${resetTo}) must not exceed the key's max_budget (${maxBudget})`, "reset_to");
  const { key } = await ctx.options.peers.keys.updateKey({ ref, settings: { spend: resetTo }, spendBefore: previous }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { key_hash: key!.keyHash, spend: resetTo, previous_spend: previous, max_budget: key!.maxBudget ?? null, budget_reset_at: iso(key!.budgetResetAtMs) });
}

async function setBlocked(ctx: RequestContext, blocked: boolean): Promise<void> {
  const ref = keyRef((await body(ctx))["key"]);
  const { keys } = ctx.options.peers;
  const { key } = blocked ? await keys.blockKey({ ref }, callOptions(ctx)) : await keys.unblockKey({ ref }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, await withSpend(ctx, key!));
}

/**
 * POST /key/health: whether the calling key works (an invalid, blocked or
 * expired one is refused as on any route). LiteLLM also tests the key's
 * logging callbacks here; this gateway has none, so they are null.
 */
export async function keyHealth(ctx: RequestContext): Promise<void> {
  await callerOf(ctx);
  sendJson(ctx.res, 200, { key: "healthy", logging_callbacks: null });
}

export const blockKey = (ctx: RequestContext) => setBlocked(ctx, true);
export const unblockKey = (ctx: RequestContext) => setBlocked(ctx, false);
