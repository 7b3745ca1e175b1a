import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { ANSWERED_WHOLE, callModel, type ModelApi } from "../model-call.js";

const EMBEDDINGS: ModelApi = { ...ANSWERED_WHOLE, callType: CallType.EMBEDDINGS };

/** POST /v1/embeddings: authorize, let the router run it, write the OpenAI list. */
export function embeddings(ctx: RequestContext): Promise<void> {
  return callModel(ctx, EMBEDDINGS);
}
