import { clientJson } from "@gateway/common";
import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, isJson, jsonArray, shown, str } from "./content.js";
import { unsupportedParam } from "./params.js";
import { effortForBudget } from "./reasoning.js";

// An Anthropic Messages request as an OpenAI chat request, so /v1/messages
// reaches deployments that speak OpenAI (or are translated from it).

/** The Messages parameters that have an OpenAI counterpart. */
const TRANSLATED = new Set(["model", "messages", "system", "max_tokens", "stop_sequences", "stream", "temperature", "top_p", "tools", "tool_choice", "metadata"]);

/** A parameter that asks for nothing OpenAI lacks (thinking turned off). */
function isDefault(name: string, value: unknown): boolean {
  return value === null || (name === "thinking" && isJson(value) && value["type"] === "disabled");
}

/**
 * OpenAI's reasoning models (o1, o3, o4-mini, gpt-5, …) refuse max_tokens,
 * which OpenAI deprecated, and take max_completion_tokens only. Other
 * OpenAI-compatible servers (Ollama, LM Studio) know max_tokens alone.
 */
const MAX_COMPLETION_TOKENS_ONLY = /^(o\d|gpt-5)/;

export function isOpenAIReasoningModel(provider: string, providerModel: string): boolean {
  return (provider === "openai" || provider === "azure") && MAX_COMPLETION_TOKENS_ONLY.test(providerModel);
}

/**
 * Gemini, from Google's API or from Vertex AI: its chat translation takes
 * reasoning_effort and top_k (as its thinking config and topK).
 */
function isGemini(provider: string, providerModel: string): boolean {
  return provider === "gemini" || (provider === "vertex_ai" && providerModel.startsWith("gemini"));
}

/**
 * Thinking as the chat request's reasoning_effort, for the models that take
 * one (OpenAI's reasoning models; Gemini's, translated on): a budget as the
 * nearest effort, adaptive thinking as the model's own default. Undefined
 * when the model takes no effort: then thinking has no counterpart.
 */
function reasoningEffort(thinking: Json, provider: string, providerModel: string): { reasoning_effort?: string } | undefined {
  if (!isOpenAIReasoningModel(provider, providerModel) && !isGemini(provider, providerModel)) return undefined;
  if (thinking["type"] === "enabled") return { reasoning_effort: effortForBudget(thinking["budget_tokens"]) };
  return thinking["type"] === "adaptive" ? {} : undefined;
}

function sourceUrl(block: Json): string {
  const source = (block["source"] ?? {}) as Json;
  if (source["type"] === "base64") return `data:${shown(source["media_type"])};base64,${shown(source["data"])}`;
  if (source["type"] === "url" && typeof source["url"] === "string") return source["url"];
  throw badRequest(`${shown(block["type"])} blocks need a base64 or url source for this model`, "messages");
}

/**
 * A document given as plain text (a text source) as the text it holds,
 * headed by its title when it has one; undefined for other sources.
 */
export function documentText(block: Json): string | undefined {
  const source = isJson(block["source"]) ? block["source"] : {};
  if (source["type"] !== "text") return undefined;
  const data = str(source["data"]) ?? "";
  const title = str(block["title"]);
  return title ? `${title}\n\n${data}` : data;
}

function userPart(block: Json): Json {
  const type = block["type"];
  if (type === "text") return { type: "text", text: str(block["text"]) ?? "" };
  if (type === "image") return { type: "image_url", image_url: { url: sourceUrl(block) } };
  if (type === "document") {
    // OpenAI's file parts carry files (a PDF); a plain-text document is text to the model.
    const text = documentText(block);
    return text === undefined ? { type: "file", file: { file_data: sourceUrl(block) } } : { type: "text", text };
  }
  throw badRequest(`content blocks of type "${shown(type)}" are not supported for this model`, "messages");
}

/**
 * Content made of text parts: none or one as a plain string (which every
 * OpenAI-compatible server takes), several as OpenAI text parts, so the
 * blocks stay apart as the client sent them.
 */
function textContent(parts: Json[]): string | Json[] {
  return parts.length <= 1 ? (str(parts[0]?.["text"]) ?? "") : parts;
}

/** The text blocks of Anthropic content (a string is one), as OpenAI text parts. */
function textParts(content: unknown): Json[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return jsonArray(content)
    .filter((block) => block["type"] === "text")
    .map((block) => ({ type: "text", text: str(block["text"]) ?? "" }));
}

/** A tool result as a tool message's content; an error says so before its text. */
function toolResultContent(block: Json): string | Json[] {
  const parts = textParts(block["content"]);
  if (block["is_error"] === true) parts[0] = { type: "text", text: `Error: ${str(parts[0]?.["text"]) ?? ""}` };
  return textContent(parts);
}

/**
 * A user turn: its tool results become tool messages, which OpenAI wants
 * right after the assistant's calls. A tool message holds text only, so the
 * images and documents of a tool result (a screenshot, say) go to the user
 * message that follows them, ahead of the turn's own blocks, in order.
 */
function userMessages(content: unknown): Json[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const messages: Json[] = [];
  const parts: Json[] = [];
  for (const block of jsonArray(content)) {
    if (block["type"] !== "tool_result") {
      parts.push(userPart(block));
      continue;
    }
    messages.push({ role: "tool", tool_call_id: block["tool_use_id"], content: toolResultContent(block) });
    for (const inner of jsonArray(block["content"])) if (inner["type"] === "image" || inner["type"] === "document") parts.push(userPart(inner));
  }
  if (parts.length > 0) messages.push({ role: "user", content: parts.length === 1 && parts[0]?.["type"] === "text" ? textContent(parts) : parts });
  return messages;
}

function assistantMessage(content: unknown): Json {
  if (typeof content === "string") return { role: "assistant", content };
  const text: Json[] = [];
  const toolCalls: Json[] = [];
  for (const block of jsonArray(content)) {
    if (block["type"] === "text") text.push({ type: "text", text: str(block["text"]) ?? "" });
    else if (block["type"] === "tool_use") {
      toolCalls.push({ id: block["id"], type: "function", function: { name: block["name"], arguments: clientJson(block["input"] ?? {}, "messages") } });
    }
    // Thinking blocks are the model's own notes, signed for Anthropic alone: other models cannot take them back.
  }
  return { role: "assistant", content: text.length === 0 ? (toolCalls.length > 0 ? null : "") : textContent(text), ...(toolCalls.length > 0 && { tool_calls: toolCalls }) };
}

function tools(value: unknown): Json[] {
  return jsonArray(value).map((tool) => {
    // Anthropic's server tools (web search, code execution, …) run only on Anthropic.
    if (tool["type"] !== undefined && tool["type"] !== "custom") throw badRequest(`tools of type "${shown(tool["type"])}" are not supported for this model`, "tools");
    return {
      type: "function",
      function: {
        name: tool["name"],
        ...(typeof tool["description"] === "string" && { description: tool["description"] }),
        parameters: isJson(tool["input_schema"]) ? tool["input_schema"] : { type: "object", properties: {} },
      },
    };
  });
}

function toolChoice(choice: Json): { tool_choice?: unknown; parallel_tool_calls?: boolean } {
  const type = choice["type"];
  const mapped =
    type === "auto" ? "auto" : type === "any" ? "required" : type === "none" ? "none" : type === "tool" ? { type: "function", function: { name: choice["name"] } } : undefined;
  if (mapped === undefined) throw badRequest("tool_choice.type must be auto, any, tool or none", "tool_choice");
  return { tool_choice: mapped, ...(choice["disable_parallel_tool_use"] === true && { parallel_tool_calls: false }) };
}

/**
 * The OpenAI chat request for a Messages body. Parameters without an OpenAI
 * counterpart are dropped under drop_params, and refused with a 400 naming
 * them when not.
 */
export function toChatRequest(body: Json, dropParams: boolean, provider: string, providerModel = ""): OpenAIBody {
  const thinking = isJson(body["thinking"]) && !isDefault("thinking", body["thinking"]) ? reasoningEffort(body["thinking"], provider, providerModel) : undefined;
  const gemini = isGemini(provider, providerModel);
  for (const [name, value] of Object.entries(body)) {
    if (TRANSLATED.has(name) || (name === "top_k" && gemini)) continue;
    if (!dropParams && !isDefault(name, value) && !(name === "thinking" && thinking)) throw unsupportedParam(name, provider);
  }
  const messages: Json[] = [];
  const system = textParts(body["system"] ?? []).filter((part) => part["text"] !== "");
  if (system.length > 0) messages.push({ role: "system", content: textContent(system) });
  for (const message of jsonArray(body["messages"])) {
    if (message["role"] === "user") messages.push(...userMessages(message["content"]));
    else if (message["role"] === "assistant") messages.push(assistantMessage(message["content"]));
    else throw badRequest(`messages.role must be user or assistant, not "${shown(message["role"])}"`, "messages");
  }
  const chat: OpenAIBody = { model: body["model"], messages };
  if (body["max_tokens"] !== undefined) chat[isOpenAIReasoningModel(provider, providerModel) ? "max_completion_tokens" : "max_tokens"] = body["max_tokens"];
  if (thinking) Object.assign(chat, thinking);
  for (const name of ["temperature", "top_p", "stream"]) if (body[name] !== undefined) chat[name] = body[name];
  if (gemini && body["top_k"] !== undefined) chat["top_k"] = body["top_k"];
  if (Array.isArray(body["stop_sequences"])) chat["stop"] = body["stop_sequences"];
  if (Array.isArray(body["tools"]) && body["tools"].length > 0) {
    chat["tools"] = tools(body["tools"]);
    if (isJson(body["tool_choice"])) Object.assign(chat, toolChoice(body["tool_choice"]));
  }
  const metadata = body["metadata"];
  if (isJson(metadata) && typeof metadata["user_id"] === "string") chat["user"] = metadata["user_id"];
  return chat;
}
