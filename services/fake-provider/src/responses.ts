import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { Refusal } from "./openai-errors.js";
import { completionTokens, countTokens, isRecord, planReply, sendJson, splitWords, TOOL_ARGUMENTS, writeEvents, type Json, type Outcome } from "./reply.js";

// OpenAI's Responses API (POST /v1/responses): input items in, output items
// out, streamed as named events. Enough of it for a gateway that passes
// requests to OpenAI as they are: text, one function call, usage.

const CALL_ID = "call_fake_resp_1";

/** The text of an input message's content: a string, or its text parts. */
function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  return Array.isArray(content) ? content.filter(isRecord).map((part) => (typeof part.text === "string" ? part.text : "")).join("") : "";
}

/** The input as a list of items; a string is one user message. */
function itemsOf(input: unknown): Json[] | undefined {
  if (typeof input === "string") return [{ type: "message", role: "user", content: input }];
  return Array.isArray(input) && input.length > 0 && input.every(isRecord) ? input : undefined;
}

const isUserMessage = (item: Json) => (item.type ?? "message") === "message" && item.role === "user";

/** What a Responses request gets, before it goes out whole or streamed. */
export interface ResponseReply {
  model: string;
  outcome: Outcome;
  usage: Json;
  /** The output item, as it is once done. */
  done: Json;
  status: "completed" | "incomplete" | "failed";
  error: Json | null;
}

/** The reply to a Responses request, or why it is refused. */
export function planResponse(body: Json, behavior: Behavior): ResponseReply | Refusal {
  const items = itemsOf(body.input);
  if (typeof body.model !== "string") return new Refusal("Missing required parameter: 'model'.");
  if (!items) return new Refusal("Missing required parameter: 'input'.");
  const tool = Array.isArray(body.tools) ? body.tools.filter(isRecord).find((t) => t.type === "function") : undefined;
  const lastUser = items.findLast(isUserMessage);
  const outcome = planReply(
    {
      toolName: typeof tool?.name === "string" ? tool.name : undefined,
      endsWithUser: items.at(-1) !== undefined && isUserMessage(items.at(-1)!),
      lastUserText: contentText(lastUser?.content),
      maxTokens: typeof body.max_output_tokens === "number" ? body.max_output_tokens : undefined,
    },
    behavior,
  );
  const inputTokens = items.reduce((sum, item) => sum + countTokens(contentText(item.content ?? item.output ?? "")), 0);
  const usage = { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: completionTokens(outcome), output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + completionTokens(outcome) };
  const done =
    outcome.kind === "text"
      ? { type: "message", id: "msg_fake_1", status: "completed", role: "assistant", content: [{ type: "output_text", text: outcome.text, annotations: [] }] }
      : { type: "function_call", id: "fc_fake_1", status: "completed", call_id: CALL_ID, name: outcome.name, arguments: TOOL_ARGUMENTS };
  const failure = behavior.responseFailure;
  const status = failure !== undefined ? "failed" : outcome.kind === "text" && outcome.truncated ? "incomplete" : "completed";
  const error = failure !== undefined ? { code: failure, message: "The model failed to finish the response." } : null;
  return { model: body.model, outcome, usage, done, status, error };
}

/** The response object; `fields` replace its parts (a stream's opening event has no output yet). */
function responseObject(reply: ResponseReply, id: string, fields: Json): Json {
  return { id, object: "response", created_at: Math.floor(Date.now() / 1000), model: reply.model, status: reply.status, error: reply.error, output: [], usage: null, ...fields };
}

/** The finished response, as the endpoint answers without streaming. */
export function wholeResponse(reply: ResponseReply, id: string): Json {
  return responseObject(reply, id, { output: [reply.done], usage: reply.usage });
}

/** Answers a Responses request, whole or streamed as the body asks. */
export async function respond(res: ServerResponse, signal: AbortSignal, body: Json, reply: ResponseReply, behavior: Behavior, id: string): Promise<void> {
  if (body.stream !== true) return sendJson(res, 200, wholeResponse(reply, id), behavior.rateLimitHeaders);
  const { outcome, done, status } = reply;

  let sequence = 0;
  const event = (type: string, fields: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
  const at = { item_id: done.id, output_index: 0 };
  const events = [event("response.created", { response: responseObject(reply, id, { status: "in_progress", error: null }) })];
  if (outcome.kind === "text") {
    events.push(event("response.output_item.added", { output_index: 0, item: { ...done, status: "in_progress", content: [] } }));
    events.push(event("response.content_part.added", { ...at, content_index: 0, part: { type: "output_text", text: "", annotations: [] } }));
    for (const delta of splitWords(outcome.text)) events.push(event("response.output_text.delta", { ...at, content_index: 0, delta }));
    events.push(event("response.output_text.done", { ...at, content_index: 0, text: outcome.text }));
  } else {
    events.push(event("response.output_item.added", { output_index: 0, item: { ...done, status: "in_progress", arguments: "" } }));
    events.push(event("response.function_call_arguments.delta", { ...at, delta: TOOL_ARGUMENTS }));
    events.push(event("response.function_call_arguments.done", { ...at, arguments: TOOL_ARGUMENTS }));
  }
  events.push(event("response.output_item.done", { output_index: 0, item: done }));
  events.push(event(`response.${status}`, { response: wholeResponse(reply, id) }));
  // breakStreamAfterChunks counts the deltas, which follow the events that open the item.
  const lead = outcome.kind === "text" ? 3 : 2;
  await writeEvents(res, signal, behavior, events, behavior.breakStreamAfterChunks === undefined ? undefined : lead + behavior.breakStreamAfterChunks);
}
