import type { RequestContext } from "../context.js";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { apiKeyOf, sendJson } from "../http.js";

/** GET /v1/models: the model groups the calling key may use, in OpenAI's list shape. */
export async function listModels(ctx: RequestContext): Promise<void> {
  const { keys, router } = ctx.options.peers;
  const auth = await keys.authorize({ apiKey: apiKeyOf(ctx.req), requestId: ctx.requestId, access: Access.LOOKUP });
  const { models } = await router.listModels({ only: auth.models });
  sendJson(ctx.res, 200, {
    object: "list",
    data: models.map((m) => ({ id: m.name, object: "model", created: Number(m.created), owned_by: "openai" })),
  });
}
