import { IMAGE_OUTPUT_TOKENS } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { readUpload } from "../http.js";
import { ANSWERED_WHOLE, callModel, invalid, MOST_TOKENS, wholeCount, type ModelApi } from "../model-call.js";

/** What `n` images (0: not given, one) may write, for the reservation. */
const imageTokens = (n: number): number => Math.min((n || 1) * IMAGE_OUTPUT_TOKENS, MOST_TOKENS);

const IMAGE_GENERATIONS: ModelApi = {
  ...ANSWERED_WHOLE,
  callType: CallType.IMAGE_GENERATIONS,
  // Answered in one piece: GPT Image's partial-image streams are not passed on.
  streams: (body) => {
    if (body["stream"] === true) throw invalid("image generation is not streamed through this gateway; leave stream out", "stream");
    return false;
  },
  maxTokens: (body) => imageTokens(wholeCount(body["n"], "n")),
};

// An upload, whose fields are text ("2", "true").
const IMAGE_EDITS: ModelApi = {
  ...IMAGE_GENERATIONS,
  callType: CallType.IMAGE_EDITS,
  streams: (body) => {
    if (body["stream"] === "true") throw invalid("image edits are not streamed through this gateway; leave stream out", "stream");
    return false;
  },
  maxTokens: (body) => imageTokens(wholeCount(body["n"] === undefined ? undefined : Number(body["n"]), "n")),
  readBody: readUpload,
  // The images given are not prompt text: their tokens are counted once the model has read them.
  promptBound: () => 0,
};

/** POST /v1/images/generations: authorize, let the router run it, write OpenAI's answer (image URLs or base64 data). */
export function imageGenerations(ctx: RequestContext): Promise<void> {
  return callModel(ctx, IMAGE_GENERATIONS);
}

/** POST /v1/images/edits (a multipart upload): the same, with the images to edit. */
export function imageEdits(ctx: RequestContext): Promise<void> {
  return callModel(ctx, IMAGE_EDITS);
}
