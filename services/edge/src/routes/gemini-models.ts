import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { ModelGroup } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { googleErrorBody } from "../google-errors.js";
import { intParam, pathSegment, queryOf, sendJson } from "../http.js";
import { sendError } from "../openai-errors.js";
import { takeQueryKey } from "./generate-content.js";
import { modelsFor } from "./models.js";

// Google's Gemini API's model list (GET /v1beta/models, the google-genai
// SDKs' models.list) and one model (GET /v1beta/models/{model}, models.get):
// the model groups the calling key may use, in Gemini's shapes, each
// answering the methods the gateway serves for it.

const PAGE = 50;
const MOST = 1000;

// Every group answers each; an embedding call to a chat model is the provider's to refuse.
const METHODS = ["generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents"];

function geminiModel(m: ModelGroup) {
  return { name: `models/${m.name}`, displayName: m.name, supportedGenerationMethods: METHODS };
}

function invalidPageToken(): Error {
  return gatewayError("pageToken is not one this list gave", Code.InvalidArgument, { type: "invalid_request_error", param: "pageToken" });
}

/** GET /v1beta/models: pageSize models (50, at most 1000) from pageToken on, with the next page's token while more are left. */
export async function listGeminiModels(ctx: RequestContext): Promise<void> {
  takeQueryKey(ctx.req);
  try {
    const size = intParam(ctx, "pageSize", PAGE, MOST, 1);
    const token = queryOf(ctx.req).get("pageToken") ?? "";
    const from = token === "" ? 0 : Number(Buffer.from(token, "base64url").toString());
    if (!Number.isSafeInteger(from) || from < 0) throw invalidPageToken();
    const models = await modelsFor(ctx, {}, { withAliases: true });
    const to = from + size;
    sendJson(ctx.res, 200, {
      models: models.slice(from, to).map(geminiModel),
      ...(to < models.length && { nextPageToken: Buffer.from(String(to)).toString("base64url") }),
    });
  } catch (err) {
    sendError(ctx.res, err, {}, googleErrorBody);
  }
}

/** GET /v1beta/models/{model}: one of them. */
export async function getGeminiModel(ctx: RequestContext): Promise<void> {
  takeQueryKey(ctx.req);
  try {
    const name = pathSegment(ctx.path.slice("/v1beta/models/".length));
    const found = (await modelsFor(ctx, {}, { withAliases: true })).find((m) => m.name === name);
    if (!found) throw gatewayError(`models/${name} is not found`, Code.NotFound, { type: "invalid_request_error", param: "model" });
    sendJson(ctx.res, 200, geminiModel(found));
  } catch (err) {
    sendError(ctx.res, err, {}, googleErrorBody);
  }
}
