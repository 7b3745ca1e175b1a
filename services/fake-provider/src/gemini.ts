import type { ServerResponse } from "node:http";
import { listedModels, type Behavior } from "./behavior.js";
import {
  arrive,
  completionTokens,
  countTokens,
  isRecord,
  planReply,
  sendJson,
  shown,
  splitWords,
  takeFailure,
  TOOL_INPUT,
  writeEvents,
  type Handler,
  type IncomingCall,
  type Json,
} from "./reply.js";
import { embed } from "./vectors.js";

// Google's Gemini API (v1beta models/{model}:generateContent,
// :streamGenerateContent?alt=sse, :batchEmbedContents), shapes from its
// public API reference: contents and parts, functionCall, finishReason,
// usageMetadata, and errors as {"error": {code, message, status}}. Vertex AI
// serves the same bodies at its own paths (vertex.ts).

const PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/;

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** Answers with Google's error shape, the status named after the code. */
export function sendError(res: ServerResponse, code: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, code, { error: { code, message, status: STATUS_NAMES[code] ?? "UNKNOWN" } }, headers);
}

function partsText(content: unknown): string {
  if (!isRecord(content) || !Array.isArray(content.parts)) return "";
  return content.parts
    .filter(isRecord)
    .map((part) => (typeof part.text === "string" ? part.text : ""))
    .filter((text) => text !== "")
    .join(" ");
}

function firstFunctionName(tools: unknown): string | undefined {
  const tool: unknown = Array.isArray(tools) ? tools[0] : undefined;
  const declaration: unknown = isRecord(tool) && Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations[0] : undefined;
  return isRecord(declaration) && typeof declaration.name === "string" ? declaration.name : undefined;
}

/**
 * Gemini 3 and later sign each turn's first function call (a thought
 * signature) and refuse a conversation that sends such a call back without
 * it; Google's "skip_thought_signature_validator" stands in for a lost one.
 */
const SIGNS_CALLS = /gemini-([3-9]|[1-9]\d)/;

/** This fake's signature for a call: base64 holding "+", "/" and "=", as real ones may. */
export function thoughtSignature(name: string): string {
  return Buffer.concat([Buffer.from([0xfb, 0xef, 0xbe]), Buffer.from(name)]).toString("base64");
}

/** The name of the first model turn's call sent back without its signature, if any. */
function unsignedCall(contents: Json[]): string | undefined {
  for (const content of contents) {
    if (content.role !== "model" || !Array.isArray(content.parts)) continue;
    const first: unknown = content.parts.find((part) => isRecord(part) && isRecord(part.functionCall));
    if (!isRecord(first) || !isRecord(first.functionCall)) continue;
    const name = shown(first.functionCall.name);
    if (first.thoughtSignature !== thoughtSignature(name) && first.thoughtSignature !== "skip_thought_signature_validator") return name;
  }
  return undefined;
}

/** usageMetadata once `output` tokens are out. */
function usageOf(body: Json, contents: Json[], behavior: Behavior, output: number, thoughts: number): Json {
  const prompt = contents.reduce((sum, c) => sum + countTokens(partsText(c)), countTokens(partsText(body.systemInstruction)));
  const cached = Math.min(behavior.cachedPromptTokens ?? 0, prompt);
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: output,
    totalTokenCount: prompt + output + thoughts,
    ...(cached > 0 && { cachedContentTokenCount: cached }),
    ...(thoughts > 0 && { thoughtsTokenCount: thoughts }),
  };
}

/**
 * The thought summary a request asks for with thinkingConfig.includeThoughts,
 * as a part marked `thought`; a thinkingLevel sent to a model before Gemini 3
 * (which takes a budget only) is refused.
 */
function thoughtOf(config: Json, model: string, prompt: string): { part?: Json; refusal?: string } {
  const thinking = isRecord(config.thinkingConfig) ? config.thinkingConfig : {};
  if (thinking.thinkingLevel !== undefined && !SIGNS_CALLS.test(model)) return { refusal: "Thinking level is not supported for this model." };
  return thinking.includeThoughts === true ? { part: { text: `Thinking about: ${prompt}`, thought: true } } : {};
}

function candidate(parts: Json[], finishReason?: string): Json {
  return { content: { role: "model", parts }, ...(finishReason && { finishReason }), index: 0 };
}

function generate(res: ServerResponse, signal: AbortSignal, call: IncomingCall, model: string, stream: boolean, behavior: Behavior, id: string): Promise<void> | void {
  const body = call.body as Json;
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0 || !contents.every(isRecord)) {
    return sendError(res, 400, "* GenerateContentRequest.contents: contents is not specified");
  }
  const signs = SIGNS_CALLS.test(model);
  const unsigned = signs ? unsignedCall(contents) : undefined;
  if (unsigned !== undefined) return sendError(res, 400, `Function call \`${unsigned}\` is missing a thought_signature in functionCall parts.`);
  const config = isRecord(body.generationConfig) ? body.generationConfig : {};
  const last = contents.at(-1) as Json;
  const thought = thoughtOf(config, model, partsText(last));
  if (thought.refusal) return sendError(res, 400, thought.refusal);
  const thoughts = thought.part ? countTokens(thought.part.text as string) : 0;
  const outcome = planReply(
    {
      toolName: firstFunctionName(body.tools),
      endsWithUser: last.role === "user" && partsText(last) !== "",
      lastUserText: partsText(contents.findLast((c) => c.role === "user" && partsText(c) !== "")),
      maxTokens: typeof config.maxOutputTokens === "number" ? config.maxOutputTokens : undefined,
      stopSequences: Array.isArray(config.stopSequences) ? config.stopSequences.filter((s): s is string => typeof s === "string") : [],
    },
    behavior,
  );
  const finishReason = outcome.kind === "text" && outcome.truncated ? "MAX_TOKENS" : "STOP";
  const output = completionTokens(outcome);
  const head = { modelVersion: model, responseId: id };
  const pieces: Json[][] =
    outcome.kind === "tool_call"
      ? [[{ functionCall: { name: outcome.name, args: TOOL_INPUT }, ...(signs && { thoughtSignature: thoughtSignature(outcome.name) }) }]]
      : splitWords(outcome.text).map((text) => [{ text }]);
  if (pieces.length === 0) pieces.push([{ text: "" }]);
  if (!stream) {
    const parts = outcome.kind === "tool_call" ? (pieces[0] as Json[]) : [{ text: outcome.text }];
    if (thought.part) parts.unshift(thought.part);
    return sendJson(res, 200, { candidates: [candidate(parts, finishReason)], usageMetadata: usageOf(body, contents, behavior, output, thoughts), ...head });
  }
  if (thought.part) pieces.unshift([thought.part]);
  if (call.query.alt !== "sse") return sendError(res, 400, "this fake streams only with alt=sse");
  // Every event carries the usage so far, as Gemini's do; the last one the totals.
  const events = pieces.map((parts, i) => {
    const done = i === pieces.length - 1;
    const usage = usageOf(body, contents, behavior, done ? output : i + 1, thoughts);
    return { candidates: [candidate(parts, done ? finishReason : undefined)], ...(!behavior.omitStreamUsage && { usageMetadata: usage }), ...head };
  });
  // Gemini separates its events with CRLF pairs.
  const lines = events.map((event) => `data: ${JSON.stringify(event)}\r\n\r\n`);
  const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : Math.min(behavior.breakStreamAfterChunks, lines.length - 1);
  return writeEvents(res, signal, behavior, lines, breakAt);
}

function batchEmbed(res: ServerResponse, body: Json, model: string): void {
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0 || !requests.every(isRecord)) {
    return sendError(res, 400, "* BatchEmbedContentsRequest.requests: requests is not specified");
  }
  const embeddings: Json[] = [];
  for (const request of requests) {
    if (request.model !== `models/${model}`) return sendError(res, 400, `Model in request "${shown(request.model)}" does not match models/${model}.`);
    const text = partsText(request.content);
    if (text === "") return sendError(res, 400, "* BatchEmbedContentsRequest.requests[].content: content is empty");
    const size = typeof request.outputDimensionality === "number" ? request.outputDimensionality : undefined;
    embeddings.push({ values: embed(text).slice(0, size) });
  }
  sendJson(res, 200, { embeddings });
}

/** The model methods a Gemini route may name. */
export type GeminiMethod = "generateContent" | "streamGenerateContent" | "batchEmbedContents";

/**
 * Answers one call to a Gemini model whose caller is already let in (an
 * injected failure, or the method's answer), wherever the route named the
 * model: the Gemini API's paths or Vertex AI's.
 */
export type GeminiAnswer = (call: IncomingCall, res: ServerResponse, signal: AbortSignal, behavior: Behavior, model: string, method: GeminiMethod) => Promise<void> | void;

/** A GeminiAnswer numbering its responses from 1. */
export function createGeminiAnswer(): GeminiAnswer {
  let count = 0;
  return (call, res, signal, behavior, model, method) => {
    const failure = takeFailure(behavior);
    if (failure) return sendError(res, failure.status, `Injected failure (HTTP ${failure.status}) from the fake provider.`, failure.headers);
    if (!isRecord(call.body)) return sendError(res, 400, "Invalid JSON payload received.");
    if (method === "batchEmbedContents") return batchEmbed(res, call.body, model);
    count += 1;
    return generate(res, signal, call, model, method === "streamGenerateContent", behavior, `fake-response-${count}`);
  };
}

/** Builds the handler for Gemini routes; `getBehavior` is read per request. */
export function createGeminiHandler(getBehavior: () => Behavior): Handler {
  const answer = createGeminiAnswer();
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    const key = call.headers["x-goog-api-key"] ?? call.query.key;
    if (behavior.requireApiKey !== undefined && key === undefined) return sendError(res, 403, "Method doesn't allow unregistered callers.");
    if (behavior.requireApiKey !== undefined && key !== behavior.requireApiKey) return sendError(res, 400, "API key not valid. Please pass a valid API key.");
    if (call.method === "GET" && call.path === "/v1beta/models") {
      return sendJson(res, 200, { models: listedModels(behavior).map((id) => ({ name: `models/${id}`, displayName: id, supportedGenerationMethods: ["generateContent"] })) });
    }
    const match = PATH.exec(call.path);
    if (call.method !== "POST" || !match) return sendError(res, 404, `${call.path} is not found.`);
    return answer(call, res, signal, behavior, decodeURIComponent(match[1] as string), match[2] as GeminiMethod);
  };
}
