import { createMessagesAnswer, type ModelOf } from "./anthropic.js";
import type { Behavior } from "./behavior.js";
import { createGeminiAnswer, sendError as sendGoogleError, type GeminiMethod } from "./gemini.js";
import { arrive, type Handler } from "./reply.js";
import type { IssuedTokens } from "./tokens.js";
import { predictEmbeddings } from "./vertex-embeddings.js";

// Google Vertex AI's publisher models, shapes from Google's public Vertex AI
// reference: Gemini at /{v1,v1beta1}/projects/{project}/locations/{location}
// /publishers/google/models/{model}:generateContent and
// :streamGenerateContent (the Gemini API's bodies and answers), Google's text
// embedding models at .../publishers/google/models/{model}:predict
// (vertex-embeddings.ts), and Claude at
// .../publishers/anthropic/models/{model}:rawPredict and :streamRawPredict
// (Anthropic's Messages bodies and answers, the model named by the path and
// the API version by the body's anthropic_version). Callers send an OAuth
// access token, and are refused in Google's error shape.

const PUBLISHERS = String.raw`^/(?:v1|v1beta1)/projects/[^/]+/locations/[^/]+/publishers`;
const GEMINI = new RegExp(`${PUBLISHERS}/google/models/([^/:]+):(generateContent|streamGenerateContent)$`);
const EMBEDDINGS = new RegExp(`${PUBLISHERS}/google/models/([^/:]+):predict$`);
const CLAUDE = new RegExp(`${PUBLISHERS}/anthropic/models/([^/:]+):(?:rawPredict|streamRawPredict)$`);
const ANTHROPIC_VERSION = "vertex-2023-10-16";
const UNAUTHENTICATED =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.";

/** The model as Vertex AI takes Claude's: named by the path, the body naming the API version and no model. */
function pathModel(model: string): ModelOf {
  return (body) => {
    if (body.anthropic_version === undefined) return { refusal: "anthropic_version: Field required" };
    if (body.anthropic_version !== ANTHROPIC_VERSION) return { refusal: `anthropic_version: Input should be '${ANTHROPIC_VERSION}'` };
    if ("model" in body) return { refusal: "model: Extra inputs are not permitted" };
    return { model };
  };
}

/**
 * Builds the handler for Vertex AI's publisher model routes, letting in the
 * access tokens in `tokens` while a key is required (any caller otherwise);
 * `getBehavior` is read per request. Claude streams when the body says
 * `stream: true`, as with Anthropic.
 */
export function createVertexHandler(getBehavior: () => Behavior, tokens: IssuedTokens): Handler {
  const gemini = createGeminiAnswer();
  const claude = createMessagesAnswer();
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    const token = /^Bearer (\S+)$/.exec(call.headers.authorization ?? "")?.[1];
    if (behavior.requireApiKey !== undefined && (token === undefined || !tokens.isLive(token))) return sendGoogleError(res, 401, UNAUTHENTICATED);
    const google = call.method === "POST" ? GEMINI.exec(call.path) : null;
    if (google) return gemini(call, res, signal, behavior, decodeURIComponent(google[1] as string), google[2] as GeminiMethod);
    const embedding = call.method === "POST" ? EMBEDDINGS.exec(call.path) : null;
    if (embedding) return predictEmbeddings(call, res, behavior, decodeURIComponent(embedding[1] as string));
    const anthropic = call.method === "POST" ? CLAUDE.exec(call.path) : null;
    if (anthropic) return claude(call, res, signal, behavior, pathModel(decodeURIComponent(anthropic[1] as string)));
    return sendGoogleError(res, 404, `${call.path} is not found.`);
  };
}
