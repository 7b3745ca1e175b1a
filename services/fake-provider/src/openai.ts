import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { Behavior } from "./behavior.js";

export interface RecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
}

export interface IncomingCall extends RecordedRequest {
  /** A body was sent but did not parse, which `body: undefined` cannot tell. */
  invalidJson: boolean;
}

export type OpenAIHandler = (call: IncomingCall, res: ServerResponse) => Promise<void>;

type Json = Record<string, unknown>;
type FinishReason = "stop" | "length" | "tool_calls";
type Outcome =
  | { kind: "text"; text: string; finishReason: "stop" | "length" }
  | { kind: "tool_call"; name: string; finishReason: "tool_calls" };

const FINGERPRINT = "fp_fake";
const TOOL_CALL_ID = "call_fake_1";
const TOOL_ARGUMENTS = JSON.stringify({ location: "Paris" });
const EMBEDDING_DIMENSIONS = 8;

/**
 * Splits text into stream pieces: each word with the whitespace around it, so
 * the pieces concatenate back to the exact text and there is one per token.
 */
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

/** Whitespace-separated words; at least 1 for any non-empty text. */
export function countTokens(text: string): number {
  return splitWords(text).length;
}

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Message content as text: a string, or its text parts joined with " ". */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is Json => isRecord(part) && part.type === "text")
    .map((part) => (typeof part.text === "string" ? part.text : ""))
    .join(" ");
}

function errorType(status: number): string {
  if (status === 429) return "rate_limit_error";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
  });
  res.end(json);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type: errorType(status), param: null, code } }, headers);
}

/** Waits, cut short when the client goes away so abandoned requests free up at once. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms > 0) await delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Resolves once the data is handed to the socket, so a following destroy cannot drop it. */
function write(res: ServerResponse, data: string): Promise<void> {
  return new Promise((resolve) => res.write(data, () => resolve()));
}

function firstToolName(tools: unknown): string | undefined {
  const first: unknown = Array.isArray(tools) ? tools[0] : undefined;
  if (!isRecord(first) || !isRecord(first.function)) return undefined;
  return typeof first.function.name === "string" ? first.function.name : undefined;
}

function maxTokens(body: Json): number | undefined {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return typeof limit === "number" ? limit : undefined;
}

function planReply(body: Json, messages: Json[], behavior: Behavior): Outcome {
  const last = messages.at(-1);
  const toolName = firstToolName(body.tools);
  if (toolName !== undefined && last?.role === "user" && /\bweather\b/i.test(textOf(last.content))) {
    return { kind: "tool_call", name: toolName, finishReason: "tool_calls" };
  }
  const lastUser = messages.findLast((message) => message.role === "user");
  const reply = behavior.reply ?? `Echo: ${textOf(lastUser?.content)}`;
  const limit = maxTokens(body);
  const words = splitWords(reply);
  if (limit !== undefined && limit < words.length) {
    return { kind: "text", text: words.slice(0, limit).join("").trimEnd(), finishReason: "length" };
  }
  return { kind: "text", text: reply, finishReason: "stop" };
}

function toolCall(name: string, args: string): Json {
  return { id: TOOL_CALL_ID, type: "function", function: { name, arguments: args } };
}

/** The deltas after the opening role chunk, i.e. the ones breakStreamAfterChunks counts. */
function contentDeltas(outcome: Outcome): Json[] {
  if (outcome.kind === "text") return splitWords(outcome.text).map((piece) => ({ content: piece }));
  const half = Math.ceil(TOOL_ARGUMENTS.length / 2);
  return [TOOL_ARGUMENTS.slice(0, half), TOOL_ARGUMENTS.slice(half)].map((part) => ({
    tool_calls: [{ index: 0, function: { arguments: part } }],
  }));
}

function openingDelta(outcome: Outcome): Json {
  if (outcome.kind === "text") return { role: "assistant", content: "" };
  return { role: "assistant", content: null, tool_calls: [{ index: 0, ...toolCall(outcome.name, "") }] };
}

interface Completion {
  id: string;
  created: number;
  model: string;
  outcome: Outcome;
  usage: Json;
}

async function streamCompletion(
  res: ServerResponse,
  signal: AbortSignal,
  behavior: Behavior,
  { id, created, model, outcome, usage }: Completion,
  includeUsage: boolean,
): Promise<void> {
  const head = { id, object: "chat.completion.chunk", created, model };
  const chunk = (delta: Json, finishReason: FinishReason | null): Json => ({
    ...head,
    system_fingerprint: FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  const content = contentDeltas(outcome);
  const events = [
    chunk(openingDelta(outcome), null),
    ...content.map((delta) => chunk(delta, null)),
    chunk({}, outcome.finishReason),
  ];
  if (includeUsage) events.push({ ...head, system_fingerprint: FINGERPRINT, choices: [], usage });
  const lines = [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
  const breakAt =
    behavior.breakStreamAfterChunks === undefined
      ? undefined
      : 1 + Math.min(behavior.breakStreamAfterChunks, content.length);

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (const [index, line] of lines.entries()) {
    if (index === breakAt) {
      res.destroy();
      return;
    }
    if (index > 0) await pause(behavior.chunkDelayMs, signal);
    if (signal.aborted) return;
    await write(res, line);
  }
  res.end();
}

function embed(text: string): number[] {
  const digest = createHash("sha256").update(text).digest();
  const raw = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => digest.readInt32LE(i * 4) / 2 ** 31);
  const norm = Math.hypot(...raw);
  // Rounded to float32 so the array and the base64 form carry the same numbers.
  return raw.map((value) => Math.fround(value / norm));
}

function toBase64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}

function embeddings(res: ServerResponse, body: Json): void {
  const { model, input } = body;
  if (typeof model !== "string") return sendError(res, 400, "You must provide a model parameter.");
  const inputs: unknown = typeof input === "string" ? [input] : input;
  if (
    !Array.isArray(inputs) ||
    inputs.length === 0 ||
    !inputs.every((item): item is string => typeof item === "string")
  ) {
    return sendError(res, 400, "'input' must be a string or a non-empty array of strings.");
  }
  const base64 = body.encoding_format === "base64";
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  sendJson(res, 200, {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = embed(text);
      return { object: "embedding", index, embedding: base64 ? toBase64(vector) : vector };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function listModels(res: ServerResponse): void {
  sendJson(res, 200, {
    object: "list",
    data: [{ id: "fake-model", object: "model", created: 0, owned_by: "fake" }],
  });
}

/**
 * Builds the handler for OpenAI routes. `getBehavior` is called per request so
 * a provider whose `behavior` object is replaced still takes effect.
 */
export function createOpenAIHandler(getBehavior: () => Behavior): OpenAIHandler {
  let completions = 0;

  async function chat(res: ServerResponse, signal: AbortSignal, body: Json, behavior: Behavior): Promise<void> {
    const { model, messages } = body;
    if (typeof model !== "string") return sendError(res, 400, "You must provide a model parameter.");
    if (!Array.isArray(messages) || messages.length === 0 || !messages.every(isRecord)) {
      return sendError(res, 400, "'messages' must be a non-empty array of message objects.");
    }
    const outcome = planReply(body, messages, behavior);
    const promptTokens = messages.reduce((sum, message) => sum + countTokens(textOf(message.content)) + 3, 0);
    const completionTokens = countTokens(outcome.kind === "text" ? outcome.text : TOOL_ARGUMENTS);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    completions += 1;
    const id = `chatcmpl-fake-${completions}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream === true) {
      const wantsUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
      const completion = { id, created, model, outcome, usage };
      return streamCompletion(res, signal, behavior, completion, wantsUsage && !behavior.omitStreamUsage);
    }
    const message =
      outcome.kind === "text"
        ? { role: "assistant", content: outcome.text, refusal: null }
        : { role: "assistant", content: null, tool_calls: [toolCall(outcome.name, TOOL_ARGUMENTS)], refusal: null };
    sendJson(res, 200, {
      id,
      object: "chat.completion",
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: outcome.finishReason }],
      usage,
      system_fingerprint: FINGERPRINT,
    });
  }

  return async (call, res) => {
    const abort = new AbortController();
    res.once("close", () => abort.abort());
    await pause(getBehavior().latencyMs, abort.signal);
    if (abort.signal.aborted) return;

    const behavior = getBehavior();
    const { requireApiKey } = behavior;
    if (requireApiKey !== undefined && call.headers.authorization !== `Bearer ${requireApiKey}`) {
      return sendError(res, 401, "Incorrect API key provided.", "invalid_api_key");
    }
    const route = `${call.method} ${call.path.replace(/^\/v1(?=\/)/, "")}`;
    if (route === "GET /models") return listModels(res);
    if (route !== "POST /chat/completions" && route !== "POST /embeddings") {
      return sendError(res, 404, `Invalid URL (${call.method} ${call.path})`);
    }

    if (behavior.failNext > 0) {
      behavior.failNext -= 1;
      const status = behavior.failStatus;
      const retryAfter = behavior.retryAfterSeconds;
      return sendError(
        res,
        status,
        `Injected failure (HTTP ${status}) from the fake provider.`,
        status === 429 ? "rate_limit_exceeded" : null,
        retryAfter === undefined ? {} : { "retry-after": String(retryAfter) },
      );
    }
    if (call.invalidJson) return sendError(res, 400, "We could not parse the JSON body of your request.");
    if (!isRecord(call.body)) return sendError(res, 400, "The request body must be a JSON object.");
    if (route === "POST /embeddings") return embeddings(res, call.body);
    return chat(res, abort.signal, call.body, behavior);
  };
}
