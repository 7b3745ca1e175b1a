import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, isJson, jsonArray, parseArguments, parseDataUrl, shown, str } from "./content.js";
import { jsonOutputChoice, jsonOutputTool } from "./json-output-tool.js";
import { anthropicThinking } from "./reasoning.js";

// An OpenAI chat request as an Anthropic Messages request, for anthropic/
// deployments and, on its way to Converse, bedrock/ ones. Field names are
// from both public API references.

/** Anthropic requires max_tokens; OpenAI clients often leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

/** The OpenAI chat parameters this translation carries over. */
export const ANTHROPIC_CHAT_PARAMS: ReadonlySet<string> = new Set([
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "top_k",
  "stop",
  "stream",
  "stream_options",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "user",
  "reasoning_effort",
  // json_schema and json_object as a tool the model is made to call (json-output-tool.ts).
  "response_format",
  // Anthropic's own, as LiteLLM passes it on.
  "thinking",
]);

/** Keeps an OpenAI part's cache_control (LiteLLM's way to ask for Anthropic prompt caching). */
function withCache(block: Json, source: Json): Json {
  return isJson(source["cache_control"]) ? { ...block, cache_control: source["cache_control"] } : block;
}

function imageBlock(part: Json): Json {
  const image = part["image_url"];
  const url = typeof image === "string" ? image : isJson(image) ? str(image["url"]) : undefined;
  if (url === undefined) throw badRequest("image_url parts need a url", "messages");
  const inline = parseDataUrl(url);
  const source = inline ? { type: "base64", media_type: inline.mediaType, data: inline.data } : { type: "url", url };
  return { type: "image", source };
}

function documentBlock(part: Json, models: string): Json {
  const file = isJson(part["file"]) ? part["file"] : {};
  const inline = parseDataUrl(str(file["file_data"]) ?? "");
  if (!inline) throw badRequest(`file parts for ${models} need file_data as a base64 data: URL`, "messages");
  return { type: "document", source: { type: "base64", media_type: inline.mediaType, data: inline.data } };
}

/** OpenAI message content as Anthropic content blocks; empty text is left out, as Anthropic refuses it. */
function contentBlocks(content: unknown, models: string): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ type: "text", text: content }];
  const blocks: Json[] = [];
  for (const part of jsonArray(content)) {
    const type = part["type"];
    if (type === "text") {
      const text = str(part["text"]) ?? "";
      if (text !== "") blocks.push(withCache({ type: "text", text }, part));
    } else if (type === "image_url") blocks.push(withCache(imageBlock(part), part));
    else if (type === "file") blocks.push(withCache(documentBlock(part, models), part));
    else throw badRequest(`content parts of type "${shown(type)}" are not supported by ${models}`, "messages");
  }
  return blocks;
}

/**
 * An assistant message's thinking_blocks (LiteLLM's field: the thinking an
 * earlier answer showed, with its signature), which Anthropic wants back
 * ahead of the tool calls they led to when thinking is on.
 */
function thinkingBlocks(value: unknown): Json[] {
  return jsonArray(value).map((block) =>
    block["type"] === "redacted_thinking"
      ? { type: "redacted_thinking", data: block["data"] }
      : { type: "thinking", thinking: str(block["thinking"]) ?? "", signature: str(block["signature"]) ?? "" },
  );
}

function toolUseBlocks(toolCalls: unknown): Json[] {
  return jsonArray(toolCalls).map((call) => {
    const fn = isJson(call["function"]) ? call["function"] : {};
    const input = parseArguments(fn["arguments"]);
    if (!input) throw badRequest("tool call arguments must be a JSON object", "messages");
    return { type: "tool_use", id: call["id"], name: fn["name"], input };
  });
}

function toolResultBlock(message: Json, models: string): Json {
  const content = message["content"];
  const result = typeof content === "string" ? content : contentBlocks(content, models);
  return { type: "tool_result", tool_use_id: message["tool_call_id"], content: result };
}

interface Conversation {
  system: Json[];
  messages: { role: "user" | "assistant"; content: Json[] }[];
}

/** A message's own cache_control marks the end of its content, where Anthropic wants the breakpoint. */
function cacheLast(blocks: Json[], message: Json): Json[] {
  const last = blocks.length - 1;
  if (last >= 0 && isJson(message["cache_control"])) blocks[last] = withCache(blocks[last] as Json, message);
  return blocks;
}

/** Adds a turn, joining it to the previous one of the same role: tool results from several tool messages share one user turn. */
function addTurn(conversation: Conversation, role: "user" | "assistant", blocks: Json[], source: Json): void {
  if (blocks.length === 0) return;
  cacheLast(blocks, source);
  const previous = conversation.messages.at(-1);
  if (previous?.role === role) previous.content.push(...blocks);
  else conversation.messages.push({ role, content: blocks });
}

function conversationOf(messages: unknown, models: string): Conversation {
  const conversation: Conversation = { system: [], messages: [] };
  for (const message of jsonArray(messages)) {
    const role = message["role"];
    if (role === "system" || role === "developer") conversation.system.push(...cacheLast(contentBlocks(message["content"], models), message));
    else if (role === "user") addTurn(conversation, "user", contentBlocks(message["content"], models), message);
    else if (role === "assistant") {
      const blocks = [...thinkingBlocks(message["thinking_blocks"]), ...contentBlocks(message["content"], models), ...toolUseBlocks(message["tool_calls"])];
      addTurn(conversation, "assistant", blocks, message);
    } else if (role === "tool") addTurn(conversation, "user", [toolResultBlock(message, models)], message);
    else throw badRequest(`messages with role "${shown(role)}" are not supported by ${models}`, "messages");
  }
  return conversation;
}

function tools(value: unknown, models: string): Json[] {
  return jsonArray(value).map((tool) => {
    const fn = tool["function"];
    if (tool["type"] !== "function" || !isJson(fn)) throw badRequest(`only function tools are supported by ${models}`, "tools");
    return withCache(
      {
        name: fn["name"],
        ...(typeof fn["description"] === "string" && { description: fn["description"] }),
        input_schema: isJson(fn["parameters"]) ? fn["parameters"] : { type: "object", properties: {} },
      },
      tool,
    );
  });
}

function toolChoice(choice: unknown, parallel: unknown): Json | undefined {
  let result: Json | undefined;
  if (choice === "auto") result = { type: "auto" };
  else if (choice === "required") result = { type: "any" };
  else if (choice === "none") result = { type: "none" };
  else if (isJson(choice) && isJson(choice["function"])) result = { type: "tool", name: choice["function"]["name"] };
  else if (choice !== undefined) throw badRequest("tool_choice must be auto, required, none or a function", "tool_choice");
  if (parallel === false && result?.type !== "none") result = { ...(result ?? { type: "auto" }), disable_parallel_tool_use: true };
  return result;
}

function stopSequences(stop: unknown): string[] | undefined {
  if (typeof stop === "string") return [stop];
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === "string") : undefined;
}

function positive(value: unknown): number | undefined {
  return typeof value === "number" && value > 0 ? value : undefined;
}

/**
 * The Anthropic Messages request for an OpenAI chat body (already fitted to
 * ANTHROPIC_CHAT_PARAMS). A JSON response_format becomes a tool the model
 * is made to call; `dropParams` drops it where it cannot be (beside tools).
 * `models` names, in refusals, what will not take the request: another
 * API that reuses this translation (Bedrock's Converse) serves other vendors' models too.
 */
export function toAnthropicRequest(body: OpenAIBody, providerModel: string, stream: boolean, dropParams = false, models = "anthropic models"): Json {
  const { system, messages } = conversationOf(body["messages"], models);
  const { fields, maxTokens } = anthropicThinking(body, providerModel, positive(body["max_completion_tokens"]) ?? positive(body["max_tokens"]), DEFAULT_MAX_TOKENS);
  const request: Json = { model: providerModel, max_tokens: maxTokens, messages, ...fields };
  if (system.length > 0) request["system"] = system;
  // OpenAI takes null for "unset"; Anthropic takes a number or nothing.
  for (const name of ["temperature", "top_p", "top_k"]) if (body[name] !== undefined && body[name] !== null) request[name] = body[name];
  const stop = stopSequences(body["stop"]);
  if (stop) request["stop_sequences"] = stop;
  const hasTools = Array.isArray(body["tools"]) && body["tools"].length > 0;
  if (hasTools) request["tools"] = tools(body["tools"], models);
  const choice = hasTools ? toolChoice(body["tool_choice"], body["parallel_tool_calls"]) : undefined;
  if (choice) request["tool_choice"] = choice;
  const jsonTool = jsonOutputTool(body, dropParams);
  if (jsonTool) {
    request["tools"] = [jsonTool];
    request["tool_choice"] = jsonOutputChoice(isJson(fields["thinking"]) && fields["thinking"]["type"] !== "disabled");
  }
  if (typeof body["user"] === "string") request["metadata"] = { user_id: body["user"] };
  if (stream) request["stream"] = true;
  return request;
}
