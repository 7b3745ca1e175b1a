import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, wholeCount, streamFlag, type ModelApi } from "../model-call.js";
import { errorBody } from "../openai-errors.js";
import { writeDone } from "../sse.js";

export const CHAT_COMPLETIONS: ModelApi = {
  callType: CallType.CHAT_COMPLETIONS,
  streams: streamFlag,
  maxTokens: (body) => wholeCount(body["max_completion_tokens"], "max_completion_tokens") || wholeCount(body["max_tokens"], "max_tokens"),
  answers: (body) => wholeCount(body["n"], "n"),
  streamError: (details) => `data: ${errorBody(details)}\n\n`,
  endStream: writeDone,
  providerHeaders: () => ({}),
};

/** POST /v1/chat/completions: authorize, let the router run it, write the OpenAI response. */
export function chatCompletions(ctx: RequestContext): Promise<void> {
  return callModel(ctx, CHAT_COMPLETIONS);
}
