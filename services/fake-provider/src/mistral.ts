import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import {
  arrive,
  completionTokens,
  countTokens,
  firstToolName,
  isRecord,
  planReply,
  sendJson,
  shown,
  splitWords,
  takeFailure,
  textOf,
  TOOL_ARGUMENTS,
  writeEvents,
  type Handler,
  type Json,
  type Outcome,
} from "./reply.js";
import { embed, toBase64 } from "./vectors.js";

// Mistral AI's chat completions, embeddings and Codestral's fill-in-the-middle
// completions under /mistral/v1/. The body
// is OpenAI's chat shape, but Mistral validates it with pydantic models that
// forbid extra keys, so an adapter that forwards OpenAI-only fields gets a
// 422 here as it would from Mistral; and a stream always ends with usage.

type FinishReason = "stop" | "length" | "tool_calls";
type Loc = (string | number)[];
interface Detail {
  type: string;
  loc: Loc;
  msg: string;
  input: unknown;
}

const PREFIX = "/mistral/v1";
// Mistral's tool call ids are nine letters or digits, and it checks the ones sent back.
const TOOL_CALL_ID = "fakeCall1";
const THINKING = { type: "thinking", thinking: [{ type: "text", text: "Thinking about it." }] };
const THINKING_TOKENS = countTokens("Thinking about it.");

const CHAT_KEYS = new Set([
  "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "response_format", "tools",
  "tool_choice", "presence_penalty", "frequency_penalty", "n", "parallel_tool_calls", "safe_prompt", "prediction", "prompt_mode",
]);
const MESSAGE_KEYS = new Set(["role", "content", "tool_calls", "tool_call_id", "prefix"]);
const TOOL_MESSAGE_KEYS = new Set([...MESSAGE_KEYS, "name"]);
const TOOL_CALL_KEYS = new Set(["id", "type", "function", "index"]);
const EMBEDDING_KEYS = new Set(["model", "input", "encoding_format", "output_dimension", "output_dtype"]);
// Codestral's fill-in-the-middle completions (/v1/fim/completions).
const FIM_KEYS = new Set(["model", "prompt", "suffix", "temperature", "top_p", "max_tokens", "min_tokens", "stream", "stop", "random_seed"]);
const ROLES = new Set(["system", "user", "assistant", "tool"]);
const TOOL_CHOICES = new Set(["auto", "none", "any", "required"]);

function sendError(res: ServerResponse, status: number, message: unknown, headers: Record<string, string> = {}): void {
  const type = status >= 500 ? "internal_server_error" : "invalid_request_error";
  sendJson(res, status, { object: "error", message, type, param: null, code: null }, headers);
}

/** Mistral's 422: pydantic's error list, wrapped in its usual error object. */
function sendInvalid(res: ServerResponse, detail: Detail[]): void {
  sendError(res, 422, { detail });
}

/** Keys the model does not declare; a declared key may be null, as pydantic's Optional fields may. */
function extraKeys(object: Json, allowed: Set<string>, loc: Loc): Detail[] {
  return Object.entries(object)
    .filter(([key]) => !allowed.has(key))
    .map(([key, input]) => ({ type: "extra_forbidden", loc: [...loc, key], msg: "Extra inputs are not permitted", input }));
}

/** A field that must be there with a value of some type: pydantic's "missing", or its type error. */
function check(ok: boolean, input: unknown, loc: Loc, type: string, msg: string): Detail[] {
  if (ok) return [];
  return [input === undefined ? { type: "missing", loc, msg: "Field required", input: null } : { type, loc, msg, input }];
}

function messageErrors(message: unknown, loc: Loc): Detail[] {
  if (!isRecord(message)) return check(false, message, loc, "dict_type", "Input should be a valid dictionary");
  if (typeof message.role !== "string" || !ROLES.has(message.role)) {
    return [{ type: "literal_error", loc: [...loc, "role"], msg: "Input should be 'system', 'user', 'assistant' or 'tool'", input: message.role ?? null }];
  }
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  return [
    ...extraKeys(message, message.role === "tool" ? TOOL_MESSAGE_KEYS : MESSAGE_KEYS, loc),
    ...calls.flatMap((call, i) => (isRecord(call) ? extraKeys(call, TOOL_CALL_KEYS, [...loc, "tool_calls", i]) : [])),
  ];
}

function toolChoiceErrors(choice: unknown): Detail[] {
  const loc = ["body", "tool_choice"];
  if (choice === undefined || choice === null) return [];
  if (typeof choice === "string") return check(TOOL_CHOICES.has(choice), choice, loc, "enum", "Input should be 'auto', 'none', 'any' or 'required'");
  const named = isRecord(choice) && choice.type === "function" && isRecord(choice.function) && typeof choice.function.name === "string";
  return check(named, choice, loc, "model_type", "Input should be a valid dictionary or instance of ToolChoice");
}

/** Everything pydantic would refuse in a chat body, in one list as it reports them. */
function chatErrors(body: Json): Detail[] {
  const { model, messages } = body;
  return [
    ...extraKeys(body, CHAT_KEYS, ["body"]),
    ...check(typeof model === "string", model, ["body", "model"], "string_type", "Input should be a valid string"),
    ...check(Array.isArray(messages), messages, ["body", "messages"], "list_type", "Input should be a valid list"),
    ...(Array.isArray(messages) ? messages.flatMap((message, i) => messageErrors(message, ["body", "messages", i])) : []),
    ...toolChoiceErrors(body.tool_choice),
  ];
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

function finishReason(outcome: Outcome): FinishReason {
  if (outcome.kind === "tool_call") return "tool_calls";
  return outcome.truncated ? "length" : "stop";
}

function toolCall(name: string): Json {
  return { id: TOOL_CALL_ID, type: "function", function: { name, arguments: TOOL_ARGUMENTS } };
}

/** The answer's message: Mistral leaves content "" beside a tool call, and magistral models lead with their thinking. */
function messageOf(outcome: Outcome, thinks: boolean): Json {
  const text = outcome.kind === "text" ? outcome.text : "";
  const content = thinks ? [THINKING, ...(text === "" ? [] : [{ type: "text", text }])] : text;
  return { role: "assistant", content, ...(outcome.kind === "tool_call" && { tool_calls: [toolCall(outcome.name)] }) };
}

/** The deltas after the opening role chunk, i.e. the ones breakStreamAfterChunks counts; Mistral sends a call whole. */
function contentDeltas(outcome: Outcome, thinks: boolean): Json[] {
  const lead = thinks ? [{ content: [THINKING] }] : [];
  if (outcome.kind === "tool_call") return [...lead, { tool_calls: [{ ...toolCall(outcome.name), index: 0 }] }];
  return [...lead, ...splitWords(outcome.text).map((piece) => ({ content: piece }))];
}

function embeddings(res: ServerResponse, body: Json): void {
  const { model, input } = body;
  const inputs: unknown = typeof input === "string" ? [input] : input;
  const strings = Array.isArray(inputs) && inputs.length > 0 && inputs.every((item) => typeof item === "string");
  const errors = [
    ...extraKeys(body, EMBEDDING_KEYS, ["body"]),
    ...check(typeof model === "string", model, ["body", "model"], "string_type", "Input should be a valid string"),
    ...check(strings, input, ["body", "input"], "list_type", "Input should be a string or a non-empty list of strings"),
  ];
  if (errors.length > 0) return sendInvalid(res, errors);
  const texts = inputs as string[];
  const size = typeof body.output_dimension === "number" ? body.output_dimension : undefined;
  const tokens = texts.reduce((sum, text) => sum + countTokens(text), 0);
  sendJson(res, 200, {
    object: "list",
    data: texts.map((text, index) => {
      const vector = embed(text).slice(0, size);
      return { object: "embedding", index, embedding: body.encoding_format === "base64" ? toBase64(vector) : vector };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens, completion_tokens: 0 },
  });
}

/** Builds the handler for Mistral routes; `getBehavior` is read per request. */
export function createMistralHandler(getBehavior: () => Behavior): Handler {
  let completions = 0;

  function chat(res: ServerResponse, signal: AbortSignal, body: Json, behavior: Behavior): Promise<void> | void {
    const errors = chatErrors(body);
    if (errors.length > 0) return sendInvalid(res, errors);
    const model = body.model as string;
    const messages = body.messages as Json[];
    if (messages.some((m) => m.role === "assistant" && isEmpty(m.content) && isEmpty(m.tool_calls))) {
      return sendError(res, 400, "Assistant message must have either content or tool_calls, but not none.");
    }
    const badId = messages
      .flatMap((m) => [m.tool_call_id, ...(Array.isArray(m.tool_calls) ? m.tool_calls.map((call) => (isRecord(call) ? call.id : undefined)) : [])])
      .find((id) => id !== undefined && !(typeof id === "string" && /^[A-Za-z0-9]{9}$/.test(id)));
    if (badId !== undefined) return sendError(res, 400, `Tool call id was ${shown(badId)} but must be a-z, A-Z, 0-9, with a length of 9.`);
    const outcome = planReply(
      {
        toolName: firstToolName(body.tools),
        endsWithUser: messages.at(-1)?.role === "user",
        lastUserText: textOf(messages.findLast((message) => message.role === "user")?.content),
        maxTokens: typeof body.max_tokens === "number" ? body.max_tokens : undefined,
      },
      behavior,
    );
    const thinks = model.startsWith("magistral");
    const promptTokens = messages.reduce((sum, message) => sum + countTokens(textOf(message.content)) + 3, 0);
    return answer(res, signal, body, behavior, outcome, thinks, promptTokens);
  }

  /** Codestral's fill-in-the-middle: the text between prompt and suffix, answered in chat's shapes as Mistral does. */
  function fim(res: ServerResponse, signal: AbortSignal, body: Json, behavior: Behavior): Promise<void> | void {
    const errors = [
      ...extraKeys(body, FIM_KEYS, ["body"]),
      ...check(typeof body.model === "string", body.model, ["body", "model"], "string_type", "Input should be a valid string"),
      ...check(typeof body.prompt === "string", body.prompt, ["body", "prompt"], "string_type", "Input should be a valid string"),
    ];
    if (errors.length > 0) return sendInvalid(res, errors);
    const prompt = body.prompt as string;
    const suffix = typeof body.suffix === "string" ? body.suffix : "";
    const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : undefined;
    const outcome = planReply({ toolName: undefined, endsWithUser: true, lastUserText: prompt, maxTokens }, behavior);
    return answer(res, signal, body, behavior, outcome, false, countTokens(prompt) + countTokens(suffix));
  }

  /** A chat completion (or a FIM's, which has the same shapes), whole or streamed with the usage on its finishing chunk. */
  function answer(res: ServerResponse, signal: AbortSignal, body: Json, behavior: Behavior, outcome: Outcome, thinks: boolean, promptTokens: number): Promise<void> | void {
    const model = body.model as string;
    const output = completionTokens(outcome) + (thinks ? THINKING_TOKENS : 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: output, total_tokens: promptTokens + output };
    completions += 1;
    const head = { id: `cmpl-fake-${completions}`, created: Math.floor(Date.now() / 1000), model };

    if (body.stream !== true) {
      const choice = { index: 0, message: messageOf(outcome, thinks), finish_reason: finishReason(outcome) };
      return sendJson(res, 200, { ...head, object: "chat.completion", choices: [choice], usage }, behavior.rateLimitHeaders);
    }
    const chunk = (delta: Json, finish: FinishReason | null, extra: Json = {}): string =>
      `data: ${JSON.stringify({ ...head, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
    const content = contentDeltas(outcome, thinks);
    const lines = [
      chunk({ role: "assistant", content: "" }, null),
      ...content.map((delta) => chunk(delta, null)),
      // Mistral has no stream_options: the usage always rides on the finishing chunk.
      chunk({ content: "" }, finishReason(outcome), behavior.omitStreamUsage ? {} : { usage }),
      "data: [DONE]\n\n",
    ];
    const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : 1 + Math.min(behavior.breakStreamAfterChunks, content.length);
    return writeEvents(res, signal, behavior, lines, breakAt);
  }

  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    const key = behavior.requireApiKey;
    // Mistral's gateway answers a bad key with its own shape, not the API's error object.
    if (key !== undefined && call.headers.authorization !== `Bearer ${key}`) return sendJson(res, 401, { detail: "Unauthorized" });
    const route = `${call.method} ${call.path}`;
    const routes = [`POST ${PREFIX}/chat/completions`, `POST ${PREFIX}/embeddings`, `POST ${PREFIX}/fim/completions`];
    if (!routes.includes(route)) return sendError(res, 404, "Not Found");

    const failure = takeFailure(behavior);
    if (failure) return sendError(res, failure.status, `Injected failure (HTTP ${failure.status}) from the fake provider.`, failure.headers);
    if (call.invalidJson) return sendInvalid(res, [{ type: "json_invalid", loc: ["body"], msg: "JSON decode error", input: null }]);
    if (!isRecord(call.body)) return sendInvalid(res, check(false, call.body, ["body"], "model_attributes_type", "Input should be a valid dictionary or object to extract fields from"));
    if (call.path.endsWith("/embeddings")) return embeddings(res, call.body);
    if (call.path.endsWith("/fim/completions")) return fim(res, signal, call.body, behavior);
    return chat(res, signal, call.body, behavior);
  };
}
