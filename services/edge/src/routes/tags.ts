import type { MessageInitShape } from "@bufbuild/protobuf";
import type { TagSpend } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { Tag, TagSettingsSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "../context.js";
import { asMasterKey, sendJson } from "../http.js";
import { bad, body, callOptions, changesBudgetWindow, iso, isString, isStrings, keysChanged, optional, required, sharedSettings, unlessMissing, type Json } from "./admin-request.js";

// LiteLLM's tag management routes (/tag/*): tags with budgets and rate limits.

const CLEARABLE = ["description", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "max_parallel_requests", "soft_budget"];

/** LiteLLM's tag fields from a request body. */
function settings(b: Json): MessageInitShape<typeof TagSettingsSchema> {
  const { models, maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests } = sharedSettings(b);
  const s: MessageInitShape<typeof TagSettingsSchema> = { models, maxBudget, budgetDuration, rpmLimit, tpmLimit, maxParallelRequests };
  const description = optional(b, "description", isString, "a string");
  if (description !== undefined) s.description = description;
  const softBudget = optional(b, "soft_budget", (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0, "a number of dollars");
  if (softBudget !== undefined) s.softBudget = softBudget;
  // null takes a setting away.
  s.clear = CLEARABLE.filter((field) => b[field] === null);
  return s;
}

const tagName = (b: Json) => required(b["name"], "name");

/** A tag in LiteLLM's response shape, its limits both flat (as LiteLLM's tag budget docs show them) and in a budget table. */
function tagInfo(t: Tag, spend: number) {
  const limited = t.maxBudget !== undefined || t.rpmLimit !== undefined || t.tpmLimit !== undefined || t.maxParallelRequests !== undefined || t.budgetDuration !== "";
  const limits = {
    max_budget: t.maxBudget ?? null,
    soft_budget: t.softBudget ?? null,
    budget_duration: t.budgetDuration || null,
    budget_reset_at: iso(t.budgetResetAtMs),
    rpm_limit: t.rpmLimit ?? null,
    tpm_limit: t.tpmLimit ?? null,
    max_parallel_requests: t.maxParallelRequests ?? null,
  };
  return {
    name: t.name,
    description: t.description || null,
    models: t.models,
    spend,
    ...limits,
    litellm_budget_table: limited || t.softBudget !== undefined ? limits : null,
    created_at: iso(t.createdAtMs),
    updated_at: iso(t.updatedAtMs),
    created_by: null,
  };
}

/** What each tag has spent in the ledger, by tag: every request booked with it. */
async function ledgerTagSpend(ctx: RequestContext): Promise<Map<string, TagSpend>> {
  const { tags } = await ctx.options.peers.accounting.tagSpend({}, asMasterKey(ctx));
  return new Map(tags.map((t) => [t.tag, t]));
}

/** Tags as shown: a tag with a budget with its budget period's spend, any other with the ledger's. */
async function shown(ctx: RequestContext, tags: Tag[], ledger?: Map<string, TagSpend>) {
  const spent = ledger ?? (tags.some((t) => t.spend === undefined) ? await ledgerTagSpend(ctx) : new Map<string, TagSpend>());
  return tags.map((t) => tagInfo(t, t.spend ?? spent.get(t.name)?.spend ?? 0));
}

export async function newTag(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const name = tagName(b);
  const { tag } = await ctx.options.peers.keys.createTag({ name, settings: settings(b) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { message: `Tag ${tag!.name} created successfully`, tag: (await shown(ctx, [tag!]))[0] });
}

/** What a tag shows as spent before a change that may move it to another budget window. */
async function spendBefore(ctx: RequestContext, b: Json, name: string): Promise<number | undefined> {
  if (!changesBudgetWindow(b)) return undefined;
  const found = await unlessMissing(ctx.options.peers.keys.getTags({ names: [name] }, callOptions(ctx)));
  return found && (await shown(ctx, found.tags))[0]?.spend;
}

export async function updateTag(ctx: RequestContext): Promise<void> {
  const b = await body(ctx);
  const name = tagName(b);
  const { tag } = await ctx.options.peers.keys.updateTag({ name, settings: settings(b), spendBefore: await spendBefore(ctx, b, name) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { message: `Tag ${name} updated successfully`, tag: (await shown(ctx, [tag!]))[0] });
}

/** POST /tag/info {"names": [...]}: each tag named, by name. */
export async function tagInfoRoute(ctx: RequestContext): Promise<void> {
  const names = optional(await body(ctx), "names", isStrings, "a list of tag names") ?? [];
  if (names.length === 0) throw bad("names is required", "names");
  const { tags } = await ctx.options.peers.keys.getTags({ names }, callOptions(ctx));
  const views = await shown(ctx, tags);
  sendJson(ctx.res, 200, Object.fromEntries(views.map((view) => [view.name, view])));
}

/**
 * GET /tag/list: every tag made with /tag/new, then every other tag the
 * ledger has seen on requests (as LiteLLM lists them, without settings).
 */
export async function listTags(ctx: RequestContext): Promise<void> {
  const { tags } = await ctx.options.peers.keys.listTags({}, callOptions(ctx));
  const ledger = await ledgerTagSpend(ctx);
  const made = new Set(tags.map((t) => t.name));
  const seen = [...ledger.values()]
    .filter((t) => !made.has(t.tag))
    .map((t) => ({ name: t.tag, description: "Carried by requests; made with no settings of its own.", models: null, spend: t.spend, created_at: null, updated_at: null }));
  sendJson(ctx.res, 200, [...(await shown(ctx, tags, ledger)), ...seen]);
}

export async function deleteTag(ctx: RequestContext): Promise<void> {
  const { name } = await ctx.options.peers.keys.deleteTag({ name: tagName(await body(ctx)) }, callOptions(ctx));
  keysChanged(ctx);
  sendJson(ctx.res, 200, { message: `Tag ${name} deleted successfully` });
}
