import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { anthropicErrorBody } from "../anthropic-errors.js";
import { sendError } from "../openai-errors.js";
import type { RequestContext } from "../context.js";
import { callModel, positiveInt, streamFlag, type ModelApi } from "../model-call.js";

const MESSAGES: ModelApi = {
  callType: CallType.MESSAGES,
  streams: streamFlag,
  maxTokens: (body) => positiveInt(body["max_tokens"]),
  streamError: (details) => `event: error\ndata: ${anthropicErrorBody(details)}\n\n`,
  // Anthropic's streams end with their message_stop event, and no marker after it.
  endStream: (res) => res.end(),
  providerHeaders: (req) => {
    // Beta features are the client's to opt in to, on deployments that speak Messages natively.
    const beta = req.headers["anthropic-beta"];
    return beta === undefined ? {} : { "anthropic-beta": Array.isArray(beta) ? beta.join(",") : beta };
  },
};

/**
 * POST /v1/messages: Anthropic's Messages API over any model in the config,
 * with the same keys, limits and ledger as chat completions, and errors in
 * Anthropic's shape.
 */
export async function messages(ctx: RequestContext): Promise<void> {
  try {
    await callModel(ctx, MESSAGES);
  } catch (err) {
    ctx.options.logger.debug({ requestId: ctx.requestId, err: (err as Error).message }, "request failed");
    sendError(ctx.res, err, { "x-litellm-call-id": ctx.requestId }, anthropicErrorBody);
  }
}
