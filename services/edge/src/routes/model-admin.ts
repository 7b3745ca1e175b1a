import { Code } from "@connectrpc/connect";
import { gatewayError, readsAll } from "@gateway/common";
import type { EndpointHealth } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { asAdmin, asMasterKey, asViewer, callerOf, queryOf, sendJson, storedPathName } from "../http.js";
import { adminJson } from "./admin-request.js";

// LiteLLM's model management routes (/model/new, /model/update,
// /model/delete, /model/info) and its deployment health check (/health), for the master
// key, as calls to the router's admin RPCs.

const decoder = new TextDecoder();

/** A JSON document a peer sent as bytes. */
export const jsonOfBytes = (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes));

/** POST /model/new: { model_name, litellm_params, model_info? }; answers the stored deployment, secrets left out. */
export async function newModel(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { raw } = await adminJson(ctx);
  const { model } = await ctx.options.peers.router.addModel({ model: raw }, asMasterKey(ctx));
  const added = model ? (jsonOfBytes(model.json) as { model_info?: { id?: string } }) : {};
  sendJson(ctx.res, 200, { model_id: added.model_info?.id ?? null, ...added });
}

async function update(ctx: RequestContext, id: unknown, raw: Uint8Array): Promise<void> {
  if (typeof id !== "string" || id === "") throw gatewayError("model_info.id is required", Code.InvalidArgument, { type: "invalid_request_error", param: "model_info.id" });
  const { model } = await ctx.options.peers.router.updateModel({ id, changes: raw }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { model_id: id, ...(model ? (jsonOfBytes(model.json) as object) : {}) });
}

/** POST /model/update: { model_info: { id }, model_name?, litellm_params? }; only the parameters given change. */
export async function updateModel(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { raw, body } = await adminJson(ctx);
  const info = body["model_info"];
  await update(ctx, info !== null && typeof info === "object" ? (info as Record<string, unknown>)["id"] : undefined, raw);
}

/** PATCH /model/{id}/update: the same, the id in the path. */
export async function patchModel(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { raw } = await adminJson(ctx);
  await update(ctx, storedPathName(ctx.path.slice("/model/".length, -"/update".length), "model_id"), raw);
}

/** POST /model/delete: { id }. */
export async function deleteModel(ctx: RequestContext): Promise<void> {
  await asAdmin(ctx);
  const { body } = await adminJson(ctx);
  const id = body["id"];
  if (typeof id !== "string" || id === "") throw gatewayError("id is required", Code.InvalidArgument, { type: "invalid_request_error", param: "id" });
  await ctx.options.peers.router.deleteModel({ id }, asMasterKey(ctx));
  sendJson(ctx.res, 200, { message: `Model: ${id} deleted successfully` });
}

/**
 * GET /model/info (?litellm_model_id= for one): every deployment, without
 * secrets, for a key that reads everything; for any other key, as LiteLLM's
 * info route, those of the model groups it may use.
 */
export async function modelInfo(ctx: RequestContext): Promise<void> {
  const caller = await callerOf(ctx);
  const { models } = await ctx.options.peers.router.getModelInfo({ id: queryOf(ctx.req).get("litellm_model_id") ?? "" }, asMasterKey(ctx));
  const deployments = models.map((m) => jsonOfBytes(m.json) as { model_name?: string });
  const everything = readsAll(caller.userRole) || caller.models.length === 0;
  sendJson(ctx.res, 200, { data: everything ? deployments : deployments.filter((d) => d.model_name !== undefined && caller.models.includes(d.model_name)) });
}

function endpoint(e: EndpointHealth) {
  return { model: e.model, model_group: e.modelGroup, model_id: e.deploymentId, api_base: e.apiBase || null, ...(e.error && { error: e.error }) };
}

/** GET /health (?model= for one group): calls every deployment once. */
export async function health(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { healthy, unhealthy } = await ctx.options.peers.router.checkHealth({ model: queryOf(ctx.req).get("model") ?? "" }, asMasterKey(ctx));
  sendJson(ctx.res, 200, {
    healthy_endpoints: healthy.map(endpoint),
    unhealthy_endpoints: unhealthy.map(endpoint),
    healthy_count: healthy.length,
    unhealthy_count: unhealthy.length,
  });
}
