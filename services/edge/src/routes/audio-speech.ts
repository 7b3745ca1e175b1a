import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { ANSWERED_WHOLE, callModel, invalid, type ModelApi } from "../model-call.js";

const SPEECH: ModelApi = {
  ...ANSWERED_WHOLE,
  callType: CallType.AUDIO_SPEECH,
  // The audio comes in one piece: GPT-4o mini TTS's event streams are not passed on.
  streams: (body) => {
    if (body["stream_format"] !== undefined && body["stream_format"] !== "audio") throw invalid("stream_format must be audio here", "stream_format");
    return false;
  },
};

/** POST /v1/audio/speech: authorize, let the router run it, write the audio as the provider sent it. */
export function audioSpeech(ctx: RequestContext): Promise<void> {
  return callModel(ctx, SPEECH);
}
