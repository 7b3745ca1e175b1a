import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, wholeCount, type ModelApi } from "../model-call.js";
import { CHAT_COMPLETIONS } from "./chat-completions.js";

// Text completions stream and fail as chat completions do.
const TEXT_COMPLETIONS: ModelApi = {
  ...CHAT_COMPLETIONS,
  callType: CallType.TEXT_COMPLETIONS,
  maxTokens: (body) => wholeCount(body["max_tokens"], "max_tokens"),
  // best_of answers are made (and paid for) to return n of them.
  answers: (body) => Math.max(wholeCount(body["n"], "n"), wholeCount(body["best_of"], "best_of")),
};

/** POST /v1/completions (OpenAI's legacy text completions): authorize, let the router run it, write the OpenAI response. */
export function textCompletions(ctx: RequestContext): Promise<void> {
  return callModel(ctx, TEXT_COMPLETIONS);
}
