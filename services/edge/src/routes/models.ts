import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { EVERY_MODEL, gatewayError } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { AccessGroupListing, type ListModelsRequestSchema, type ModelGroup } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { anthropicErrorBody } from "../anthropic-errors.js";
import { apiKeyOf, intParam, pathSegment, queryOf, sendJson } from "../http.js";
import { sendError } from "../openai-errors.js";
import { callOptions } from "./admin-request.js";
import { jsonOfBytes } from "./model-admin.js";

/** How the router lists models, but for whose models: the caller's. */
type Listing = Omit<MessageInitShape<typeof ListModelsRequestSchema>, "only" | "$typeName">;

/**
 * The model groups the calling key may use (or, with `teamModels`, those
 * models), listed as `listing` asks, and (`withAliases`) after them each
 * name its or its team's aliases give one of those groups, as LiteLLM lists
 * team aliases.
 */
export async function modelsFor(ctx: RequestContext, listing: Listing, { withAliases = false, teamModels }: { withAliases?: boolean; teamModels?: string[] | undefined } = {}): Promise<ModelGroup[]> {
  const { keys, router } = ctx.options.peers;
  const auth = await keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.LOOKUP });
  const groups = (await router.listModels({ ...listing, only: teamModels ?? auth.models })).models;
  if (!withAliases) return groups;
  const byName = new Map(groups.map((g) => [g.name, g]));
  const aliases = auth.modelAliases.flatMap(({ key: name, value: group }) => {
    const target = byName.get(group);
    return target && !byName.has(name) ? [{ ...target, name }] : [];
  });
  return [...groups, ...aliases];
}

function modelObject(m: ModelGroup) {
  return { id: m.name, object: "model", created: Number(m.created), owned_by: "openai" };
}

// FastAPI's true for a boolean query parameter.
const TRUE = /^(true|1|yes|on|t|y)$/i;

/** The models of the team `team_id` names, which the caller must be able to read; undefined without team_id. */
async function teamModels(ctx: RequestContext): Promise<string[] | undefined> {
  const teamId = queryOf(ctx.req).get("team_id");
  if (!teamId) return undefined;
  const { team } = await ctx.options.peers.keys.getTeam({ teamId }, callOptions(ctx));
  const models = team!.models;
  return models.some((m) => EVERY_MODEL.has(m)) ? [] : models;
}

/**
 * Anthropic's clients (its SDK, Claude Code's gateway model discovery) send
 * anthropic-version, and read models, pages and errors in Anthropic's shapes.
 */
const asksAnthropic = (ctx: RequestContext) => ctx.req.headers["anthropic-version"] !== undefined;

function anthropicModel(m: ModelGroup) {
  return { type: "model", id: m.name, display_name: m.name, created_at: new Date(Number(m.created) * 1000).toISOString() };
}

const ANTHROPIC_PAGE = 20;
const ANTHROPIC_MOST = 1000;

/** A page of Anthropic's model list: `limit` models after `after_id`, or the last `limit` before `before_id`. */
function anthropicPage(ctx: RequestContext, models: ModelGroup[]) {
  const q = queryOf(ctx.req);
  const limit = intParam(ctx, "limit", ANTHROPIC_PAGE, ANTHROPIC_MOST, 1);
  const at = (param: "after_id" | "before_id") => {
    const id = q.get(param);
    if (!id) return undefined;
    const i = models.findIndex((m) => m.name === id);
    if (i < 0) throw gatewayError(`${param} names no model this key may list: ${id}`, Code.InvalidArgument, { type: "invalid_request_error", param });
    return i;
  };
  const [afterAt, beforeAt] = [at("after_id"), at("before_id")];
  const start = afterAt === undefined ? 0 : afterAt + 1;
  const end = beforeAt ?? models.length;
  // Paging back from before_id takes the models just before it; otherwise, the first after after_id.
  const [from, to] = beforeAt !== undefined ? [Math.max(start, end - limit), end] : [start, Math.min(start + limit, end)];
  const page = models.slice(from, to);
  const hasMore = beforeAt !== undefined ? from > start : to < end;
  return { data: page.map(anthropicModel), has_more: hasMore, first_id: page[0]?.name ?? null, last_id: page.at(-1)?.name ?? null };
}

/** Answers in Anthropic's shapes for its clients, OpenAI's for the rest. */
async function answer(ctx: RequestContext, openai: () => Promise<unknown>, anthropic: () => Promise<unknown>): Promise<void> {
  if (!asksAnthropic(ctx)) {
    sendJson(ctx.res, 200, await openai());
    return;
  }
  try {
    sendJson(ctx.res, 200, await anthropic());
  } catch (err) {
    sendError(ctx.res, err, {}, anthropicErrorBody);
  }
}

/**
 * GET /v1/models: the model groups the calling key may use, in OpenAI's list
 * shape (or Anthropic's); under check_provider_endpoint, a wildcard group's
 * as the models its providers list, and its pattern too with
 * return_wildcard_routes=true.
 */
export async function listModels(ctx: RequestContext): Promise<void> {
  const q = queryOf(ctx.req);
  const asked = (name: string) => TRUE.test(q.get(name) ?? "");
  const withMetadata = asked("include_metadata");
  const listing: Listing = {
    withWildcardRoutes: asked("return_wildcard_routes"),
    accessGroups: asked("only_model_access_groups") ? AccessGroupListing.ONLY : asked("include_model_access_groups") ? AccessGroupListing.INCLUDE : AccessGroupListing.UNSPECIFIED,
    fallbackType: withMetadata ? q.get("fallback_type") || "general" : "",
  };
  const models = async () => modelsFor(ctx, listing, { withAliases: true, teamModels: await teamModels(ctx) });
  await answer(
    ctx,
    async () => ({ object: "list", data: (await models()).map((m) => (withMetadata ? { ...modelObject(m), metadata: { fallbacks: m.fallbacks } } : modelObject(m))) }),
    async () => anthropicPage(ctx, await models()),
  );
}

/** GET /v1/models/{model}: one of them, by its name (everything after /models/, so it may hold "/"). */
export async function retrieveModel(ctx: RequestContext): Promise<void> {
  const sent = ctx.path.slice(ctx.path.indexOf("/models/") + "/models/".length);
  const name = pathSegment(sent);
  const model = async () => {
    const found = (await modelsFor(ctx, {}, { withAliases: true })).find((m) => m.name === name);
    if (!found) {
      throw gatewayError(`The model '${name}' does not exist`, Code.NotFound, { type: "invalid_request_error", code: "model_not_found", param: "model" });
    }
    return found;
  };
  await answer(
    ctx,
    async () => modelObject(await model()),
    async () => anthropicModel(await model()),
  );
}

/**
 * GET /model_group/info (?model_group= for one): LiteLLM's view of the
 * groups the calling key may use, and of its and its team's aliases, each
 * as the group it names.
 */
export async function modelGroupInfo(ctx: RequestContext): Promise<void> {
  const only = queryOf(ctx.req).get("model_group");
  const groups = (await modelsFor(ctx, { withInfo: true }, { withAliases: true })).filter((m) => only === null || m.name === only);
  sendJson(ctx.res, 200, { data: groups.map((m) => ({ ...(jsonOfBytes(m.info) as object), model_group: m.name })) });
}
