import type { IncomingMessage } from "node:http";
import { clientJson, estimateTokens } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { googleErrorBody } from "../google-errors.js";
import { apiKeyOf, pathSegment, readJsonObject, sendJson } from "../http.js";
import { ANSWERED_WHOLE, callModel, invalid, wholeCount, type ModelApi } from "../model-call.js";
import { sendError } from "../openai-errors.js";

// Google's Gemini API over any model in the config, as LiteLLM serves it
// for the google-genai SDKs and the Gemini CLI: models/{model}:generateContent,
// :streamGenerateContent (server-sent events, as with ?alt=sse),
// :countTokens, :embedContent and :batchEmbedContents, under /v1beta, where
// Google's SDKs ask (unversioned, these paths would fall under /models/*,
// which allowed_routes' info_routes open).
// The key comes as x-goog-api-key, ?key= or any header the other routes
// read; errors are in Google's shape.

/** A Gemini API path: its model (as sent, escapes not yet undone) and method. */
export const GEMINI_MODEL_CALL = /^\/v1beta\/models\/(.+):(generateContent|streamGenerateContent)$/;
export const GEMINI_COUNT_TOKENS = /^\/v1beta\/models\/(.+):countTokens$/;
export const GEMINI_EMBED = /^\/v1beta\/models\/(.+):(embedContent|batchEmbedContents)$/;

type Body = Record<string, unknown>;

function generationConfigOf(body: Body): Body {
  const config = body["generationConfig"] ?? body["generation_config"];
  return config !== null && typeof config === "object" ? (config as Body) : {};
}

/** The Gemini API for one request: the model and whether it streams come from its path, and join its body for the router. */
function geminiApi(model: string, stream: boolean): ModelApi {
  return {
    callType: CallType.GENERATE_CONTENT,
    streams: () => stream,
    maxTokens: (body) => wholeCount(generationConfigOf(body)["maxOutputTokens"] ?? generationConfigOf(body)["max_output_tokens"], "generationConfig.maxOutputTokens"),
    answers: (body) => wholeCount(generationConfigOf(body)["candidateCount"] ?? generationConfigOf(body)["candidate_count"], "generationConfig.candidateCount"),
    streamError: (details) => `data: ${googleErrorBody(details)}\n\n`,
    // Gemini's streams end with their last chunk, and no marker after it.
    endStream: (res) => res.end(),
    providerHeaders: () => ({}),
    readBody: withPathFields({ model, stream }),
  };
}

/** Reads a JSON body and adds what the path says (the model, and the call's kind), for the router. */
function withPathFields(fields: Body): NonNullable<ModelApi["readBody"]> {
  return async (req, limit) => {
    const { body } = await readJsonObject(req, limit);
    const sent: Body = Object.assign({}, body, fields);
    return { raw: Buffer.from(clientJson(sent)), body: sent, contentType: "" };
  };
}

/** Runs a Gemini API route, answering its failures in Google's shape. */
async function asGoogle(ctx: RequestContext, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (err) {
    ctx.options.logger.debug({ requestId: ctx.requestId, err: (err as Error).message }, "request failed");
    sendError(ctx.res, err, { "x-litellm-call-id": ctx.requestId }, googleErrorBody);
  }
}

/** The key of a request that sends it as Google's clients may: ?key= when no header carries one. */
export function takeQueryKey(req: IncomingMessage): void {
  const query = req.url?.indexOf("?") ?? -1;
  if (query < 0) return;
  const key = new URLSearchParams(req.url!.slice(query + 1)).get("key");
  if (key !== null && req.headers["x-goog-api-key"] === undefined) req.headers["x-goog-api-key"] = key;
}

/** POST models/{model}:generateContent and :streamGenerateContent. */
export async function generateContentRoute(ctx: RequestContext): Promise<void> {
  const [, model, method] = GEMINI_MODEL_CALL.exec(ctx.path)!;
  takeQueryKey(ctx.req);
  await asGoogle(ctx, () => callModel(ctx, geminiApi(pathSegment(model!), method === "streamGenerateContent")));
}

/** POST models/{model}:embedContent and :batchEmbedContents, on any deployment that embeds. */
export async function embedContentRoute(ctx: RequestContext): Promise<void> {
  const [, model, method] = GEMINI_EMBED.exec(ctx.path)!;
  takeQueryKey(ctx.req);
  const api: ModelApi = { ...ANSWERED_WHOLE, callType: CallType.EMBED_CONTENT, readBody: withPathFields({ model: pathSegment(model!), batch: method === "batchEmbedContents" }) };
  await asGoogle(ctx, () => callModel(ctx, api));
}

// What Gemini counts for an image of up to 384 pixels a side (larger ones are tiled); the request does not say an image's size.
const IMAGE_TOKENS = 258;

/** The text of a Gemini request's input (system instruction, contents, tools), and how many media parts it holds. */
function inputOf(request: Body): { text: string; media: number } {
  let text = "";
  let media = 0;
  const add = (content: unknown) => {
    const parts = (content as { parts?: unknown } | null)?.parts;
    if (!Array.isArray(parts)) return;
    for (const part of parts as (Body | null)[]) {
      if (part === null || typeof part !== "object") continue;
      if (typeof part["text"] === "string") text += part["text"];
      else if (part["inlineData"] ?? part["inline_data"] ?? part["fileData"] ?? part["file_data"]) media += 1;
      else text += JSON.stringify(part["functionCall"] ?? part["function_call"] ?? part["functionResponse"] ?? part["function_response"] ?? "");
    }
  };
  add(request["systemInstruction"] ?? request["system_instruction"]);
  if (Array.isArray(request["contents"])) for (const content of request["contents"]) add(content);
  if (Array.isArray(request["tools"])) text += JSON.stringify(request["tools"]);
  return { text, media };
}

/**
 * POST models/{model}:countTokens: Gemini's count of a request's input
 * tokens, as LiteLLM serves it. Counted here, as the ledger counts a
 * provider that reports no usage (about four characters a token), so it is
 * an estimate, not the provider's tokenizer. The model is checked as
 * generateContent checks it: the key must be allowed it and a model group
 * must answer it.
 */
export async function countGeminiTokens(ctx: RequestContext): Promise<void> {
  const model = pathSegment(GEMINI_COUNT_TOKENS.exec(ctx.path)![1]!);
  takeQueryKey(ctx.req);
  try {
    const { body } = await readJsonObject(ctx.req, ctx.options.maxBodyBytes);
    const wrapped = body["generateContentRequest"] ?? body["generate_content_request"];
    const request = wrapped !== null && typeof wrapped === "object" ? (wrapped as Body) : body;
    const { peers } = ctx.options;
    const auth = await peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.LOOKUP, model });
    // After the key, as the router checks a generateContent body: a bad key is a 401 whatever the body holds.
    if (!Array.isArray(request["contents"])) throw invalid("contents must be a list of contents", "contents");
    // The key's alias (or model_alias_map) may have renamed it, as for a call.
    await peers.router.resolveModel({ model: auth.model === "" ? model : auth.model });
    const { text, media } = inputOf(request);
    sendJson(ctx.res, 200, { totalTokens: estimateTokens(text) + media * IMAGE_TOKENS });
  } catch (err) {
    sendError(ctx.res, err, {}, googleErrorBody);
  }
}
