import { clientJson } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { readJsonObject } from "../http.js";
import { ANSWERED_WHOLE, callModel, type ModelApi } from "../model-call.js";

// OpenAI's API takes a moderation without a model and runs its default,
// omni-moderation-latest; here that is the model group of that name.
const DEFAULT_MODEL = "omni-moderation-latest";

const MODERATIONS: ModelApi = {
  ...ANSWERED_WHOLE,
  callType: CallType.MODERATIONS,
  // A body that names no model is sent on naming the default, so the key check, the router and the ledger see the model that runs.
  readBody: async (req, limit) => {
    const { raw, body } = await readJsonObject(req, limit);
    if (body["model"] !== undefined && body["model"] !== null) return { raw, body, contentType: "" };
    const named = { ...body, model: DEFAULT_MODEL };
    return { raw: Buffer.from(clientJson(named)), body: named, contentType: "" };
  },
};

/** POST /v1/moderations: authorize, let the router run it, write OpenAI's verdicts. */
export function moderations(ctx: RequestContext): Promise<void> {
  return callModel(ctx, MODERATIONS);
}
