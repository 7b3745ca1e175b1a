import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, wholeCount, streamFlag, type ModelApi } from "../model-call.js";

const RESPONSES: ModelApi = {
  callType: CallType.RESPONSES,
  streams: streamFlag,
  maxTokens: (body) => wholeCount(body["max_output_tokens"], "max_output_tokens"),
  // The Responses stream's error event, with OpenAI's error object beside its fields, which is what OpenAI's SDKs raise on.
  streamError: (details) => {
    const code = details.code ?? String(details.status);
    const error = { message: details.message, type: details.type, param: details.param, code };
    return `event: error\ndata: ${JSON.stringify({ type: "error", code, message: details.message, param: details.param, error })}\n\n`;
  },
  // The stream ends with response.completed, and no marker after it.
  endStream: (res) => res.end(),
  providerHeaders: () => ({}),
};

/** POST /v1/responses: OpenAI's Responses API over any model in the config, answered through a chat completion. */
export function responses(ctx: RequestContext): Promise<void> {
  return callModel(ctx, RESPONSES);
}
