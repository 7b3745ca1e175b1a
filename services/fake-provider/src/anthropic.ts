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
  textOf,
  writeEvents,
  type Handler,
  type IncomingCall,
  type Json,
  type Outcome,
} from "./reply.js";

// Anthropic's Messages API (POST /v1/messages), shapes from its public API
// reference: x-api-key and anthropic-version headers, content blocks,
// stop_reason, usage with cache tokens, and named stream events. Vertex AI
// serves Claude with the same bodies at its own paths (vertex.ts).

const TOOL_USE_ID = "toolu_fake_1";

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const type = ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  sendJson(res, status, { type: "error", error: { type, message } }, { ...headers, "request-id": "req_fake" });
}

function stopReason(outcome: Outcome): string {
  if (outcome.kind === "tool_call") return "tool_use";
  if (outcome.stopSequence !== undefined) return "stop_sequence";
  return outcome.truncated ? "max_tokens" : "end_turn";
}

function hasText(message: Json): boolean {
  return textOf(message.content) !== "";
}

function usageOf(body: Json, messages: Json[], outcome: Outcome, behavior: Behavior, thought: Json | undefined): Json {
  const prompt = messages.reduce((sum, m) => sum + countTokens(textOf(m.content)) + 3, countTokens(textOf(body.system)));
  const read = Math.min(behavior.cachedPromptTokens ?? 0, prompt);
  const written = Math.min(behavior.cacheWriteTokens ?? 0, prompt - read);
  return {
    input_tokens: prompt - read - written,
    output_tokens: completionTokens(outcome) + (thought ? countTokens(thought.thinking as string) : 0),
    cache_creation_input_tokens: written,
    cache_read_input_tokens: read,
    ...(behavior.cacheWrite1hTokens !== undefined && { cache_creation: cacheCreation(written, behavior.cacheWrite1hTokens) }),
    ...(behavior.webSearchRequests !== undefined && { server_tool_use: { web_search_requests: behavior.webSearchRequests } }),
  };
}

/** Anthropic's split of the cache writes by lifetime; no more of them go to the one-hour cache than were written. */
function cacheCreation(written: number, oneHour: number): Json {
  const ephemeral1h = Math.min(oneHour, written);
  return { ephemeral_5m_input_tokens: written - ephemeral1h, ephemeral_1h_input_tokens: ephemeral1h };
}

/**
 * A tool whose schema names no properties at all (`"properties": {}`) takes
 * no input: Claude calls it with `{}`, and its stream sends the input as one
 * empty input_json_delta, as Anthropic's does.
 */
function takesNoInput(tool: Json | undefined): boolean {
  const schema = tool?.input_schema;
  return isRecord(schema) && isRecord(schema.properties) && Object.keys(schema.properties).length === 0;
}

function contentOf(outcome: Outcome, thought: Json | undefined, noInput: boolean): Json[] {
  const lead = thought ? [thought] : [];
  if (outcome.kind === "tool_call") return [...lead, { type: "tool_use", id: TOOL_USE_ID, name: outcome.name, input: noInput ? {} : outcome.input }];
  return [...lead, { type: "text", text: outcome.text }];
}

/** The fake's signature over a thinking block's text, so a block sent back can be checked as Anthropic checks its own. */
function signatureOf(thinking: string): string {
  return `fake-signature:${Buffer.from(thinking).toString("base64")}`;
}

// Claude's generations as Anthropic's thinking API tells them apart: from 4.6
// on a model thinks adaptively, at an effort; from Opus 4.7 on it takes
// nothing else; earlier ones take a budget only.
function claudeVersion(model: string): number {
  const match = /claude-(?:opus|sonnet|haiku|fable|mythos)-(\d+)(?:-(\d{1,2})(?!\d))?/.exec(model);
  return match ? Number(match[1]) + Number(match[2] ?? 0) / 100 : 0;
}

const EFFORTS = new Set(["low", "medium", "high", "xhigh", "max"]);

/**
 * Extended thinking, checked as Anthropic checks it: budgets on the models
 * that take them (1024 tokens at least, below max_tokens), adaptive thinking
 * with a known effort on the newer ones; and the last assistant turn that
 * called a tool must start with the thinking block that led to the call,
 * signed. Returns the refusal's message, or undefined when the request may
 * go on.
 */
function thinkingRefusal(body: Json, messages: Json[], model: string): string | undefined {
  const thinking = body.thinking as Json;
  const version = claudeVersion(model);
  if (thinking.type === "adaptive") {
    if (version < 4.06) return "thinking.type.adaptive is not supported on this model; use thinking.type.enabled with budget_tokens";
    const effort = isRecord(body.output_config) ? body.output_config.effort : undefined;
    if (effort !== undefined && !(typeof effort === "string" && EFFORTS.has(effort))) return `output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'`;
  } else {
    if (version >= 4.07) return "thinking.type.enabled is not supported for this model. Use thinking.type.adaptive and output_config.effort to control thinking behavior.";
    const budget = thinking.budget_tokens;
    if (typeof budget !== "number" || budget < 1024) return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
    if (budget >= (body.max_tokens as number)) return "`max_tokens` must be greater than `thinking.budget_tokens`";
  }
  const lastCall = messages.findLastIndex((m) => m.role === "assistant" && Array.isArray(m.content) && m.content.some((b) => isRecord(b) && b.type === "tool_use"));
  if (lastCall < 0) return undefined;
  const first = ((messages[lastCall] as Json).content as unknown[])[0];
  const signed = isRecord(first) && first.type === "thinking" && typeof first.thinking === "string" && first.signature === signatureOf(first.thinking);
  return signed || (isRecord(first) && first.type === "redacted_thinking")
    ? undefined
    : `messages.${lastCall}.content.0: when thinking is enabled, an assistant message with tool_use must start with its signed thinking block`;
}

const line = (event: Json) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`;

async function stream(res: ServerResponse, signal: AbortSignal, behavior: Behavior, message: Json, outcome: Outcome): Promise<void> {
  const { usage, content: _content, stop_reason, stop_sequence, ...head } = message;
  const withUsage = (event: Json, u: Json) => (behavior.omitStreamUsage ? event : { ...event, usage: u });
  const u = usage as Json;
  const startUsage = { ...u, output_tokens: 1 };
  const thought = (message.content as Json[]).find((b) => b.type === "thinking");
  const at = thought ? 1 : 0;
  const thinking = thought
    ? [
        { type: "content_block_start", index: 0, content_block: { type: "thinking", thinking: "" } },
        { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: thought.thinking } },
        { type: "content_block_delta", index: 0, delta: { type: "signature_delta", signature: thought.signature } },
        { type: "content_block_stop", index: 0 },
      ]
    : [];
  const block =
    outcome.kind === "tool_call" ? { type: "tool_use", id: TOOL_USE_ID, name: outcome.name, input: {} } : { type: "text", text: "" };
  const call = (message.content as Json[]).find((b) => b.type === "tool_use");
  const noInput = isRecord(call?.input) && Object.keys(call.input).length === 0;
  const args = JSON.stringify(call?.input ?? {});
  const half = Math.ceil(args.length / 2);
  const deltas =
    outcome.kind === "tool_call"
      ? (noInput ? [""] : [args.slice(0, half), args.slice(half)]).map((partial_json) => ({ type: "input_json_delta", partial_json }))
      : splitWords(outcome.text).map((text) => ({ type: "text_delta", text }));
  const events: Json[] = [
    { type: "message_start", message: withUsage({ ...head, content: [], stop_reason: null, stop_sequence: null }, startUsage) },
    ...thinking,
    { type: "content_block_start", index: at, content_block: block },
    { type: "ping" },
    ...deltas.map((delta) => ({ type: "content_block_delta", index: at, delta })),
    { type: "content_block_stop", index: at },
    withUsage({ type: "message_delta", delta: { stop_reason, stop_sequence } }, { output_tokens: u.output_tokens }),
    { type: "message_stop" },
  ];
  // Events before the first content delta.
  const lead = 3 + thinking.length;
  const breakAt = behavior.breakStreamAfterChunks === undefined ? undefined : lead + Math.min(behavior.breakStreamAfterChunks, deltas.length);
  if (behavior.streamErrorAfterChunks !== undefined) {
    const type = behavior.streamErrorType ?? "overloaded_error";
    const error = { type: "error", error: { type, message: type === "overloaded_error" ? "Overloaded" : `Injected ${type} from the fake provider.` } };
    events.splice(lead + Math.min(behavior.streamErrorAfterChunks, deltas.length), events.length, error);
  }
  await writeEvents(res, signal, behavior, events.map(line), breakAt);
}

/**
 * Where a Messages call's model comes from, checked on its body: Anthropic's
 * API names it in the body, Vertex AI in the path. A refusal is the 400's message.
 */
export type ModelOf = (body: Json) => { model: string } | { refusal: string };

/**
 * Answers one Messages call whose caller is already let in: an injected
 * failure, a refusal of the body, or the message (streamed when the body says
 * `stream: true`), naming the model `modelOf` finds.
 */
export type MessagesAnswer = (call: IncomingCall, res: ServerResponse, signal: AbortSignal, behavior: Behavior, modelOf: ModelOf) => Promise<void>;

/** A MessagesAnswer numbering its messages from 1. */
export function createMessagesAnswer(): MessagesAnswer {
  let count = 0;
  return async (call, res, signal, behavior, modelOf) => {
    const failure = takeFailure(behavior);
    if (failure) return sendError(res, failure.status, `Injected failure (HTTP ${failure.status}) from the fake provider.`, failure.headers);
    const body = call.body;
    if (!isRecord(body)) return sendError(res, 400, "The request body is not valid JSON.");
    const named = modelOf(body);
    if ("refusal" in named) return sendError(res, 400, named.refusal);
    const { model } = named;
    if (typeof body.max_tokens !== "number" || body.max_tokens < 1) return sendError(res, 400, "max_tokens: Field required");
    // Sampling parameters are optional numbers: null is refused, not read as "unset".
    for (const name of ["temperature", "top_p", "top_k"]) {
      if (name in body && typeof body[name] !== "number") return sendError(res, 400, `${name}: Input should be a valid number`);
    }
    const messages = body.messages;
    if (!Array.isArray(messages) || messages.length === 0 || !messages.every(isRecord)) {
      return sendError(res, 400, "messages: at least one message is required");
    }
    const thinks = isRecord(body.thinking) && (body.thinking.type === "enabled" || body.thinking.type === "adaptive");
    const refusal = thinks ? thinkingRefusal(body, messages, model) : undefined;
    if (refusal) return sendError(res, 400, refusal);
    const tools = Array.isArray(body.tools) ? body.tools.filter(isRecord) : [];
    const callsTools = messages.some((m) => Array.isArray(m.content) && m.content.some((b) => isRecord(b) && (b.type === "tool_use" || b.type === "tool_result")));
    if (callsTools && tools.length === 0) return sendError(res, 400, "Requests which include `tool_use` or `tool_result` blocks must define tools.");
    // A forced tool (tool_choice {type: "tool"}) must be among the tools, and cannot be while the model thinks.
    const choice = isRecord(body.tool_choice) ? body.tool_choice : undefined;
    const forced = choice?.type === "tool" ? tools.find((tool) => tool.name === choice.name) : undefined;
    if (choice?.type === "tool" && forced === undefined) return sendError(res, 400, `tool_choice: tool \`${shown(choice.name)}\` not found in tools`);
    if (forced && thinks) return sendError(res, 400, "Thinking may not be enabled when tool_choice forces tool use.");
    const last = messages.at(-1) as Json;
    const outcome = planReply(
      {
        toolName: typeof tools[0]?.name === "string" ? tools[0].name : undefined,
        ...(forced && { forcedTool: { name: String(forced.name), schema: forced.input_schema } }),
        endsWithUser: last.role === "user" && hasText(last),
        lastUserText: textOf(messages.findLast((m) => m.role === "user" && hasText(m))?.content),
        maxTokens: body.max_tokens,
        stopSequences: Array.isArray(body.stop_sequences) ? body.stop_sequences.filter((s): s is string => typeof s === "string") : [],
      },
      behavior,
    );
    count += 1;
    const reasoning = `Thinking about: ${textOf(last.content) || "the tool result"}`;
    const thought = thinks ? { type: "thinking", thinking: reasoning, signature: signatureOf(reasoning) } : undefined;
    const message = {
      id: `msg_fake_${count}`,
      type: "message",
      role: "assistant",
      model,
      content: contentOf(outcome, thought, takesNoInput(tools[0])),
      stop_reason: stopReason(outcome),
      stop_sequence: outcome.kind === "text" ? (outcome.stopSequence ?? null) : null,
      usage: usageOf(body, messages, outcome, behavior, thought),
    };
    if (body.stream === true) return stream(res, signal, behavior, message, outcome);
    sendJson(res, 200, message, behavior.rateLimitHeaders);
  };
}

/** The model as Anthropic's API takes it: named in the body. */
const bodyModel: ModelOf = (body) => (typeof body.model === "string" ? { model: body.model } : { refusal: "model: Field required" });

/** Anthropic's GET /v1/models: every listed model in one page. */
function listAnthropicModels(res: ServerResponse, behavior: Behavior): void {
  const ids = listedModels(behavior);
  sendJson(res, 200, {
    data: ids.map((id) => ({ type: "model", id, display_name: id, created_at: "2025-01-01T00:00:00Z" })),
    has_more: false,
    first_id: ids[0] ?? null,
    last_id: ids.at(-1) ?? null,
  });
}

/** Builds the handler for POST /v1/messages (and GET /v1/models); `getBehavior` is read per request. */
export function createAnthropicHandler(getBehavior: () => Behavior): Handler {
  const answer = createMessagesAnswer();
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    if (behavior.requireApiKey !== undefined && call.headers["x-api-key"] !== behavior.requireApiKey) {
      return sendError(res, 401, "invalid x-api-key");
    }
    if (!call.headers["anthropic-version"]) return sendError(res, 400, "anthropic-version: header is required");
    if (call.method === "GET" && call.path === "/v1/models") return listAnthropicModels(res, behavior);
    if (call.method !== "POST") return sendError(res, 404, `Not found: ${call.method} ${call.path}`);
    return answer(call, res, signal, behavior, bodyModel);
  };
}
