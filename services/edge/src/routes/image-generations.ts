import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { callModel, invalid, positiveInt, type ModelApi } from "../model-call.js";

// The most image tokens a GPT Image model writes for one image (its largest
// size at high quality, about 6,200): with n, what a key's reservation bounds
// a request by. DALL·E, priced by the image, has no output tokens to bound.
const IMAGE_OUTPUT_TOKENS = 6_240;

const IMAGE_GENERATIONS: ModelApi = {
  callType: CallType.IMAGE_GENERATIONS,
  // Answered in one piece: GPT Image's partial-image streams are not passed on.
  streams: (body) => {
    if (body["stream"] === true) throw invalid("image generation is not streamed through this gateway; leave stream out", "stream");
    return false;
  },
  maxTokens: (body) => (positiveInt(body["n"]) || 1) * IMAGE_OUTPUT_TOKENS,
  streamError: () => "",
  endStream: (res) => res.end(),
  providerHeaders: () => ({}),
};

/** POST /v1/images/generations: authorize, let the router run it, write OpenAI's answer (image URLs or base64 data). */
export function imageGenerations(ctx: RequestContext): Promise<void> {
  return callModel(ctx, IMAGE_GENERATIONS);
}
