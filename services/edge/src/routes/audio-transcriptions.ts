import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { readUpload } from "../http.js";
import { ANSWERED_WHOLE, callModel, invalid, type ModelApi } from "../model-call.js";

const TRANSCRIPTIONS: ModelApi = {
  ...ANSWERED_WHOLE,
  callType: CallType.AUDIO_TRANSCRIPTIONS,
  // A form's fields are text: "true" asks for GPT-4o transcription's event stream, which is not passed on.
  streams: (body) => {
    if (body["stream"] === "true") throw invalid("transcriptions are not streamed through this gateway; leave stream out", "stream");
    return false;
  },
  readBody: readUpload,
  // The upload is audio, not prompt text: its bytes bound nothing worth reserving against a key's tokens.
  promptBound: () => 0,
};

/** POST /v1/audio/transcriptions (a multipart upload): authorize, let the router run it, write the text as the provider sent it. */
export function audioTranscriptions(ctx: RequestContext): Promise<void> {
  return callModel(ctx, TRANSCRIPTIONS);
}
