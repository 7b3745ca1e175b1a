import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import type { ModelGroup } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, pathSegment, queryOf, sendJson } from "../http.js";

/**
 * The model groups the calling key may use, with what they are made of when
 * asked, and (`withAliases`) after them each name its or its team's aliases
 * give one of those groups, as LiteLLM lists team aliases.
 */
async function modelsFor(ctx: RequestContext, { withInfo = false, withAliases = false } = {}): Promise<ModelGroup[]> {
  const { keys, router } = ctx.options.peers;
  const auth = await keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.LOOKUP });
  const groups = (await router.listModels({ only: auth.models, withInfo })).models;
  if (!withAliases) return groups;
  const byName = new Map(groups.map((g) => [g.name, g]));
  const aliases = Object.entries(auth.modelAliases).flatMap(([name, group]) => {
    const target = byName.get(group);
    return target && !byName.has(name) ? [{ ...target, name }] : [];
  });
  return [...groups, ...aliases];
}

function modelObject(m: ModelGroup) {
  return { id: m.name, object: "model", created: Number(m.created), owned_by: "openai" };
}

/** GET /v1/models: the model groups the calling key may use, in OpenAI's list shape. */
export async function listModels(ctx: RequestContext): Promise<void> {
  sendJson(ctx.res, 200, { object: "list", data: (await modelsFor(ctx, { withAliases: true })).map(modelObject) });
}

/** GET /v1/models/{model}: one of them, by its name (everything after /models/, so it may hold "/"). */
export async function retrieveModel(ctx: RequestContext): Promise<void> {
  const sent = ctx.path.slice(ctx.path.indexOf("/models/") + "/models/".length);
  const name = pathSegment(sent);
  const model = (await modelsFor(ctx, { withAliases: true })).find((m) => m.name === name);
  if (!model) {
    throw gatewayError(`The model '${name}' does not exist`, Code.NotFound, { type: "invalid_request_error", code: "model_not_found", param: "model" });
  }
  sendJson(ctx.res, 200, modelObject(model));
}

const decoder = new TextDecoder();

/** GET /model_group/info (?model_group= for one): LiteLLM's view of the groups the calling key may use. */
export async function modelGroupInfo(ctx: RequestContext): Promise<void> {
  const only = queryOf(ctx.req).get("model_group");
  const groups = (await modelsFor(ctx, { withInfo: true })).filter((m) => only === null || m.name === only);
  sendJson(ctx.res, 200, { data: groups.map((m) => JSON.parse(decoder.decode(m.info)) as unknown) });
}
