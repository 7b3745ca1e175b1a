import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { ANSWERED_WHOLE, callModel, type ModelApi } from "../model-call.js";

const RERANK: ModelApi = { ...ANSWERED_WHOLE, callType: CallType.RERANK };

/** POST /rerank (also /v1/rerank, /v2/rerank, as LiteLLM answers them): authorize, let the router run it, write the scores. */
export function rerank(ctx: RequestContext): Promise<void> {
  return callModel(ctx, RERANK);
}
