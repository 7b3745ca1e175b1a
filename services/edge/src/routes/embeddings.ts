import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, type ModelApi } from "../model-call.js";

const EMBEDDINGS: ModelApi = {
  callType: CallType.EMBEDDINGS,
  // Embeddings answer in one piece, and generate no tokens.
  streams: () => false,
  maxTokens: () => 0,
  streamError: () => "",
  endStream: (res) => res.end(),
  providerHeaders: () => ({}),
};

/** POST /v1/embeddings: authorize, let the router run it, write the OpenAI list. */
export function embeddings(ctx: RequestContext): Promise<void> {
  return callModel(ctx, EMBEDDINGS);
}
