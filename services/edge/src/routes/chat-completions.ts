import { answerCount } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, positiveInt, streamFlag, type ModelApi } from "../model-call.js";
import { errorBody } from "../openai-errors.js";
import { writeDone } from "../sse.js";

export const CHAT_COMPLETIONS: ModelApi = {
  callType: CallType.CHAT_COMPLETIONS,
  streams: streamFlag,
  maxTokens: (body) => positiveInt(body["max_completion_tokens"]) || positiveInt(body["max_tokens"]),
  answers: (body) => answerCount(body["n"]),
  streamError: (details) => `data: ${errorBody(details)}\n\n`,
  endStream: writeDone,
  providerHeaders: () => ({}),
};

/** POST /v1/chat/completions: authorize, let the router run it, write the OpenAI response. */
export function chatCompletions(ctx: RequestContext): Promise<void> {
  return callModel(ctx, CHAT_COMPLETIONS);
}
