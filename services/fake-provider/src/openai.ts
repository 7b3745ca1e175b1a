import type { ServerResponse } from "node:http";
import { listedModels, type Behavior } from "./behavior.js";
import { createBatchStore, STORE_ROUTES, type StoreRoute } from "./batches.js";
import {
  arrive,
  completionTokens,
  countTokens,
  firstToolName,
  isRecord,
  planReply,
  sendJson,
  splitWords,
  takeFailure,
  textOf,
  TOOL_ARGUMENTS,
  writeEvents,
  type Handler,
  type IncomingCall,
  type Json,
  type Outcome,
} from "./reply.js";
import { editImages, generateImages } from "./images.js";
import { moderate } from "./moderations.js";
import { jsonBody, Refusal, sendError, sendRefusal } from "./openai-errors.js";
import { rerank } from "./rerank.js";
import { planResponse, respond, wholeResponse } from "./responses.js";
import { speak } from "./speech.js";
import { transcribe } from "./transcriptions.js";
import { planTextCompletion, textCompletion, textCompletionObject } from "./text-completions.js";
import { embed, toBase64 } from "./vectors.js";

// OpenAI's chat completions, text completions, embeddings, images,
// speech and transcription, files and batches, at OpenAI's paths and at
// Azure OpenAI's (/openai/deployments/{name}/…?api-version=…, and
// /openai/files… and /openai/batches…, api-key header); OpenAI's
// moderations (not Azure's); and the rerank route that servers speaking
// OpenAI's API add beside them.

type FinishReason = "stop" | "length" | "tool_calls";

const FINGERPRINT = "fp_fake";
const TOOL_CALL_ID = "call_fake_1";
const SECOND_TOOL_CALL_ID = "call_fake_2";
const AZURE_PATH = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings|images\/generations|images\/edits|audio\/speech|audio\/transcriptions)$/;
/** Azure's files and batches: under /openai, outside any deployment. */
const AZURE_STORE_PATH = /^\/openai(\/(?:files|batches)(?:\/.*)?)$/;
/** A path naming a stored object, so that all its ids share one route: /files/{id}/content, /batches/{id}/cancel, … */
const STORED_OBJECT_PATH = /^\/(files|batches)\/([^/]+)(\/[^/]+)?$/;
const ROUTES = new Set(["POST /chat/completions", "POST /completions", "POST /embeddings", "POST /responses", "POST /images/generations", "POST /images/edits", "POST /audio/speech", "POST /audio/transcriptions", "POST /rerank", "POST /moderations", ...STORE_ROUTES]);

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, …) refuse the deprecated
 * max_tokens and take max_completion_tokens only.
 */
const MAX_COMPLETION_TOKENS_ONLY = /^(o\d|gpt-5)/;

/** The most answers (n) OpenAI makes for one chat request. */
const MAX_ANSWERS = 128;

function maxTokens(body: Json): number | undefined {
  const limit = body.max_completion_tokens ?? body.max_tokens;
  return typeof limit === "number" ? limit : undefined;
}

function finishReason(outcome: Outcome): FinishReason {
  if (outcome.kind === "tool_call") return "tool_calls";
  return outcome.truncated ? "length" : "stop";
}

function toolCall(name: string, args: string, id = TOOL_CALL_ID): Json {
  return { id, type: "function", function: { name, arguments: args } };
}

/** The deltas after the opening role chunk, i.e. the ones breakStreamAfterChunks counts. */
function contentDeltas(outcome: Outcome, behavior: Behavior): Json[] {
  if (outcome.kind === "text") return splitWords(outcome.text).map((piece) => ({ content: piece }));
  const half = Math.ceil(TOOL_ARGUMENTS.length / 2);
  const [first, second] = [TOOL_ARGUMENTS.slice(0, half), TOOL_ARGUMENTS.slice(half)];
  if (behavior.interleavedToolCalls === true) {
    // The second call opens between the first call's two pieces, and the first call's rest comes after it.
    return [
      { tool_calls: [{ index: 0, function: { arguments: first } }] },
      { tool_calls: [{ index: 1, ...toolCall(outcome.name, first, SECOND_TOOL_CALL_ID) }] },
      { tool_calls: [{ index: 0, function: { arguments: second } }] },
      { tool_calls: [{ index: 1, function: { arguments: second } }] },
    ];
  }
  return [first, second].map((part) => ({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
}

function openingDelta(outcome: Outcome): Json {
  if (outcome.kind === "text") return { role: "assistant", content: "" };
  return { role: "assistant", content: null, tool_calls: [{ index: 0, ...toolCall(outcome.name, "") }] };
}

/** What a chat request gets, before it goes out whole or streamed: the same answer `answers` times (OpenAI's n). */
interface ChatReply {
  model: string;
  outcome: Outcome;
  answers: number;
  usage: Json;
}

interface Completion extends ChatReply {
  id: string;
  created: number;
}

async function streamCompletion(
  res: ServerResponse,
  signal: AbortSignal,
  behavior: Behavior,
  { id, created, model, outcome, answers, usage }: Completion,
  includeUsage: boolean,
): Promise<void> {
  const head = { id, object: "chat.completion.chunk", created, model };
  // Each answer's part in a chunk of its own, one answer after another.
  const chunks = (delta: Json, finish: FinishReason | null): Json[] =>
    Array.from({ length: answers }, (_, index) => ({
      ...head,
      system_fingerprint: FINGERPRINT,
      choices: [{ index, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {}),
    }));
  const content = contentDeltas(outcome, behavior);
  const events = [...chunks(openingDelta(outcome), null), ...content.flatMap((delta) => chunks(delta, null)), ...chunks({}, finishReason(outcome))];
  if (includeUsage) events.push({ ...head, system_fingerprint: FINGERPRINT, choices: [], usage });
  const lines = [...events.map((event) => `data: ${JSON.stringify(event)}\n\n`), "data: [DONE]\n\n"];
  const breakAt =
    behavior.breakStreamAfterChunks === undefined ? undefined : answers * (1 + Math.min(behavior.breakStreamAfterChunks, content.length));
  await writeEvents(res, signal, behavior, lines, breakAt);
}

/** The whole chat.completion object, as the endpoint answers without streaming. */
function chatCompletion({ id, created, model, outcome, answers, usage }: Completion, behavior: Behavior): Json {
  const calls = (name: string) =>
    behavior.interleavedToolCalls === true
      ? [toolCall(name, TOOL_ARGUMENTS), toolCall(name, TOOL_ARGUMENTS, SECOND_TOOL_CALL_ID)]
      : [toolCall(name, TOOL_ARGUMENTS)];
  const message =
    outcome.kind === "text"
      ? { role: "assistant", content: outcome.text, refusal: null }
      : { role: "assistant", content: null, tool_calls: calls(outcome.name), refusal: null };
  return {
    id,
    object: "chat.completion",
    created,
    model,
    choices: Array.from({ length: answers }, (_, index) => ({ index, message, logprobs: null, finish_reason: finishReason(outcome) })),
    usage,
    system_fingerprint: FINGERPRINT,
  };
}

/** The reply to a chat request, or why it is refused. */
function planChat(body: Json, behavior: Behavior): ChatReply | Refusal {
  const { model, messages } = body;
  if (typeof model !== "string") return new Refusal("You must provide a model parameter.");
  if (!Array.isArray(messages) || messages.length === 0 || !messages.every(isRecord)) {
    return new Refusal("'messages' must be a non-empty array of message objects.");
  }
  if (body.max_tokens !== undefined && MAX_COMPLETION_TOKENS_ONLY.test(model)) {
    const message = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.";
    return new Refusal(message, "max_tokens", "unsupported_parameter");
  }
  const outcome = planReply(
    {
      toolName: firstToolName(body.tools),
      endsWithUser: messages.at(-1)?.role === "user",
      lastUserText: textOf(messages.findLast((message) => message.role === "user")?.content),
      maxTokens: maxTokens(body),
    },
    behavior,
  );
  const answers = typeof body.n === "number" && Number.isInteger(body.n) && body.n > 0 ? body.n : 1;
  if (answers > MAX_ANSWERS) return new Refusal(`n may be at most ${MAX_ANSWERS}`, "n");
  const promptTokens = behavior.promptTokens ?? messages.reduce((sum, message) => sum + countTokens(textOf(message.content)) + 3, 0);
  const cached = Math.min(behavior.cachedPromptTokens ?? 0, promptTokens);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens(outcome) * answers,
    total_tokens: promptTokens + completionTokens(outcome) * answers,
    ...(cached > 0 && { prompt_tokens_details: { cached_tokens: cached } }),
    ...(behavior.reportedCost && { cost: reportedCost(behavior.reportedCost) }),
  };
  return { model, outcome, answers, usage };
}

/** The embeddings list, or why the request is refused. */
function embeddingList(body: Json): Json | Refusal {
  const { model, input } = body;
  if (typeof model !== "string") return new Refusal("You must provide a model parameter.");
  const inputs: unknown = typeof input === "string" ? [input] : input;
  if (
    !Array.isArray(inputs) ||
    inputs.length === 0 ||
    !inputs.every((item): item is string => typeof item === "string")
  ) {
    return new Refusal("'input' must be a string or a non-empty array of strings.");
  }
  const base64 = body.encoding_format === "base64";
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = embed(text);
      return { object: "embedding", index, embedding: base64 ? toBase64(vector) : vector };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function listModels(res: ServerResponse, behavior: Behavior): void {
  sendJson(res, 200, {
    object: "list",
    data: listedModels(behavior).map((id) => ({ id, object: "model", created: 0, owned_by: "fake" })),
  });
}

/** Where a call goes: a route (`POST /chat/completions`, `GET /files/{id}`, …), the id in its path, and whether it came Azure's way. */
interface Route extends StoreRoute {
  /** The Azure deployment in the path, which names the model. */
  deployment?: string;
}

function routeOf(call: IncomingCall): Route {
  const deployment = AZURE_PATH.exec(call.path);
  if (deployment) return { route: `${call.method} /${deployment[2]}`, azure: true, deployment: deployment[1] as string };
  const azureStore = AZURE_STORE_PATH.exec(call.path);
  const azure = azureStore !== null;
  const path = azure ? (azureStore[1] as string) : call.path.replace(/^\/v1(?=\/)/, "");
  const stored = STORED_OBJECT_PATH.exec(path);
  if (!stored) return { route: `${call.method} ${path}`, azure };
  return { route: `${call.method} /${stored[1]}/{id}${stored[3] ?? ""}`, azure, id: stored[2] as string };
}

/** Whether the call carries the key: OpenAI's bearer token, or Azure's api-key header. */
function authorized(call: IncomingCall, key: string | undefined, azure: boolean): boolean {
  if (key === undefined) return true;
  return azure ? call.headers["api-key"] === key : call.headers.authorization === `Bearer ${key}`;
}

/**
 * Builds the handler for OpenAI (and Azure OpenAI) routes. `getBehavior` is
 * called per request so a provider whose `behavior` object is replaced
 * still takes effect.
 */
export function createOpenAIHandler(getBehavior: () => Behavior): Handler {
  let completions = 0;
  const nextId = (prefix: string) => `${prefix}${++completions}`;
  const now = () => Math.floor(Date.now() / 1000);
  const store = createBatchStore(answer);

  /** A route's whole answer to a body (what a batch request gets), or why the route refuses it. */
  function answer(route: string, body: Json, behavior: Behavior): Json | Refusal {
    if (route === "POST /embeddings") return embeddingList(body);
    if (route === "POST /completions") {
      const reply = planTextCompletion(body, behavior);
      return reply instanceof Refusal ? reply : textCompletionObject(reply, nextId("cmpl-fake-"));
    }
    if (route === "POST /responses") {
      const reply = planResponse(body, behavior);
      return reply instanceof Refusal ? reply : wholeResponse(reply, nextId("resp_fake_"));
    }
    const reply = planChat(body, behavior);
    return reply instanceof Refusal ? reply : chatCompletion({ ...reply, id: nextId("chatcmpl-fake-"), created: now() }, behavior);
  }

  async function chat(res: ServerResponse, signal: AbortSignal, body: Json, behavior: Behavior): Promise<void> {
    const reply = planChat(body, behavior);
    if (reply instanceof Refusal) return sendRefusal(res, reply);
    const completion = { ...reply, id: nextId("chatcmpl-fake-"), created: now() };
    if (body.stream === true) {
      const wantsUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
      return streamCompletion(res, signal, behavior, completion, wantsUsage && !behavior.omitStreamUsage);
    }
    sendJson(res, 200, chatCompletion(completion, behavior), behavior.rateLimitHeaders);
  }

  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    const where = routeOf(call);
    const { route, azure, deployment } = where;
    if (!authorized(call, behavior.requireApiKey, azure)) {
      return sendError(res, 401, "Incorrect API key provided.", "invalid_api_key");
    }
    if (route === "GET /models") return listModels(res, behavior);
    if (!ROUTES.has(route) || (azure && !call.query["api-version"]) || (route === "POST /responses" && (azure || behavior.noResponsesApi === true))) {
      return sendError(res, 404, `Invalid URL (${call.method} ${call.path})`);
    }

    const failure = takeFailure(behavior);
    if (failure) {
      const { status, headers } = failure;
      return sendError(res, status, `Injected failure (HTTP ${status}) from the fake provider.`, status === 429 ? "rate_limit_exceeded" : null, headers);
    }
    const reject = (message: string, param: string) => sendError(res, 400, message, null, {}, param);
    if (STORE_ROUTES.has(route)) return store(where, call, res, behavior);
    if (route === "POST /audio/transcriptions") return transcribe(call, res, reject);
    if (route === "POST /images/edits") return editImages(call, res, reject, now());
    const json = jsonBody(call);
    if (json instanceof Refusal) return sendRefusal(res, json);
    // Azure names the model by the deployment in the path.
    const body = deployment === undefined ? json : { ...json, model: deployment };
    if (route === "POST /embeddings") {
      const list = embeddingList(body);
      return list instanceof Refusal ? sendRefusal(res, list) : sendJson(res, 200, list);
    }
    if (route === "POST /audio/speech") return speak(res, body, reject);
    if (route === "POST /rerank") return rerank(res, body, reject, nextId("rerank-fake-"));
    if (route === "POST /moderations") return moderate(res, body, reject, nextId("modr-fake-"));
    if (route === "POST /images/generations") return generateImages(res, body, reject, now());
    if (route === "POST /responses") {
      // The id is taken before the body is checked, so a refused request uses up its number.
      const id = nextId("resp_fake_");
      const reply = planResponse(body, behavior);
      return reply instanceof Refusal ? sendRefusal(res, reply) : respond(res, signal, body, reply, behavior, id);
    }
    if (route === "POST /completions") {
      const reply = planTextCompletion(body, behavior);
      if (reply instanceof Refusal) return sendRefusal(res, reply);
      return textCompletion(res, signal, body, reply, behavior, nextId("cmpl-fake-"));
    }
    return chat(res, signal, body, behavior);
  };
}

/** usage.cost as OpenRouter (dollars) or Perplexity (dollars by part) reports it. */
function reportedCost({ usd, as }: NonNullable<Behavior["reportedCost"]>): Json | number {
  return as === "openrouter" ? usd : { input_tokens_cost: usd / 2, output_tokens_cost: usd / 4, request_cost: usd / 4, total_cost: usd };
}
