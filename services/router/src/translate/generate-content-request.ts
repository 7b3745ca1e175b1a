import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { Json, OpenAIBody } from "../providers/provider.js";
import { isJson, jsonArray, str } from "./content.js";
import { isOpenAIReasoningModel } from "./messages-request.js";

// Google's Gemini generateContent requests as OpenAI chat completions, so
// models/{model}:generateContent answers from any deployment. Gemini's REST
// API takes its fields in camelCase or snake_case; both are read. Gemini's
// own tools (googleSearch, codeExecution, urlContext) have no chat
// counterpart and are left out; function declarations become chat tools.

/** A field by its camelCase name, else by its snake_case one. */
function field(obj: Json, camel: string): unknown {
  const value = obj[camel];
  return value !== undefined ? value : obj[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const fieldJson = (obj: Json, camel: string): Json | undefined => {
  const value = field(obj, camel);
  return isJson(value) ? value : undefined;
};

/** The text of a Content's (or a systemInstruction's) text parts; a bare string is its own text. */
export function partsText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!isJson(content)) return "";
  return jsonArray(content["parts"])
    .map((part) => str(part["text"]) ?? "")
    .join("");
}

/** Inline data (base64) or a file's URI as a chat content part: images as image_url, anything else as a file. */
function mediaPart(part: Json): Json | undefined {
  const inline = fieldJson(part, "inlineData");
  if (inline) {
    const mime = str(field(inline, "mimeType")) ?? "application/octet-stream";
    const url = `data:${mime};base64,${str(inline["data"]) ?? ""}`;
    return mime.startsWith("image/") ? { type: "image_url", image_url: { url } } : { type: "file", file: { file_data: url } };
  }
  const file = fieldJson(part, "fileData");
  if (file) {
    const uri = str(field(file, "fileUri")) ?? "";
    const mime = str(field(file, "mimeType")) ?? "";
    return mime.startsWith("image/") || mime === "" ? { type: "image_url", image_url: { url: uri } } : { type: "file", file: { file_id: uri, format: mime } };
  }
  return undefined;
}

/**
 * Contents as chat messages: a model turn's text and function calls become
 * an assistant message, a user turn's function responses tool messages
 * (answering the call of that name, in order, when they carry no id), its
 * text and media a user message. Thoughts a model turn carries are its own,
 * and are not sent back.
 */
function toMessages(contents: readonly Json[]): Json[] {
  const messages: Json[] = [];
  // Ids of calls not yet answered, by function name: Gemini's calls often carry none.
  const unanswered = new Map<string, string[]>();
  let made = 0;
  for (const content of contents) {
    const parts = jsonArray(content["parts"]);
    if (content["role"] === "model") {
      let text = "";
      const toolCalls: Json[] = [];
      for (const part of parts) {
        if (part["thought"] === true) continue;
        text += str(part["text"]) ?? "";
        const call = fieldJson(part, "functionCall");
        if (!call) continue;
        const name = str(call["name"]) ?? "";
        const id = str(call["id"]) ?? `call_${++made}`;
        // Grown in place: a copy for each call made a turn of thousands of calls quadratic.
        const ids = unanswered.get(name);
        if (ids) ids.push(id);
        else unanswered.set(name, [id]);
        toolCalls.push({ id, type: "function", function: { name, arguments: JSON.stringify(call["args"] ?? {}) } });
      }
      messages.push(toolCalls.length > 0 ? { role: "assistant", content: text === "" ? null : text, tool_calls: toolCalls } : { role: "assistant", content: text });
      continue;
    }
    const userParts: Json[] = [];
    for (const part of parts) {
      const answer = fieldJson(part, "functionResponse");
      if (answer) {
        const name = str(answer["name"]) ?? "";
        const id = str(answer["id"]) ?? unanswered.get(name)?.shift() ?? `call_${++made}`;
        messages.push({ role: "tool", tool_call_id: id, content: JSON.stringify(answer["response"] ?? {}) });
        continue;
      }
      const text = str(part["text"]);
      if (text !== undefined) userParts.push({ type: "text", text });
      const media = mediaPart(part);
      if (media) userParts.push(media);
    }
    if (userParts.length === 0) continue;
    const only = userParts.length === 1 ? userParts[0]! : undefined;
    messages.push({ role: "user", content: only?.["type"] === "text" ? only["text"] : userParts });
  }
  return messages;
}

// Deeper than any schema a model is given; far short of overflowing the stack.
const MAX_SCHEMA_DEPTH = 100;

/** A Gemini Schema as JSON Schema: its type names in lower case (OBJECT → object), nullable as a "null" type. */
export function toJsonSchema(schema: unknown, depth = 0): unknown {
  if (depth > MAX_SCHEMA_DEPTH) throw gatewayError(`a schema is nested more than ${MAX_SCHEMA_DEPTH} levels deep`, Code.InvalidArgument, { type: "invalid_request_error" });
  const inner = (sub: unknown) => toJsonSchema(sub, depth + 1);
  if (Array.isArray(schema)) return schema.map(inner);
  if (!isJson(schema)) return schema;
  const out: Json = {};
  for (const [name, value] of Object.entries(schema)) {
    if (name === "nullable" || name === "propertyOrdering") continue;
    if (name === "type" && typeof value === "string") out[name] = value.toLowerCase();
    else if (name === "properties" && isJson(value)) out[name] = Object.fromEntries(Object.entries(value).map(([key, sub]) => [key, inner(sub)]));
    else if (name === "items" || name === "anyOf" || name === "oneOf" || name === "allOf") out[name] = inner(value);
    else out[name] = value;
  }
  if (schema["nullable"] === true && typeof out["type"] === "string") out["type"] = [out["type"], "null"];
  return out;
}

/** Function declarations as chat tools; Gemini's own tools have none. */
function chatTools(tools: unknown): Json[] {
  const out: Json[] = [];
  for (const tool of jsonArray(tools)) {
    for (const fn of jsonArray(field(tool, "functionDeclarations"))) {
      const parameters = field(fn, "parametersJsonSchema") ?? toJsonSchema(fn["parameters"]);
      const description = str(fn["description"]);
      out.push({ type: "function", function: { name: fn["name"], ...(description !== undefined && { description }), parameters: parameters ?? { type: "object", properties: {} } } });
    }
  }
  return out;
}

/** toolConfig.functionCallingConfig as a tool_choice: AUTO, ANY (one allowed name: that function), NONE. */
function toolChoice(config: Json | undefined): unknown {
  const calling = config && fieldJson(config, "functionCallingConfig");
  const mode = calling && str(calling["mode"]);
  if (mode === "NONE") return "none";
  if (mode !== "ANY") return mode === undefined ? undefined : "auto";
  const allowed = field(calling!, "allowedFunctionNames");
  return Array.isArray(allowed) && allowed.length === 1 ? { type: "function", function: { name: allowed[0] } } : "required";
}

/** generationConfig's response MIME type and schema as a response_format. */
function responseFormat(config: Json): Json | undefined {
  if (field(config, "responseMimeType") !== "application/json") return undefined;
  const schema = field(config, "responseJsonSchema") ?? toJsonSchema(field(config, "responseSchema"));
  return schema === undefined ? { type: "json_object" } : { type: "json_schema", json_schema: { name: "response", schema } };
}

// generationConfig's fields that chat names otherwise, and what chat calls them.
const GENERATION_FIELDS: readonly [string, string][] = [
  ["temperature", "temperature"],
  ["topP", "top_p"],
  ["candidateCount", "n"],
  ["stopSequences", "stop"],
  ["presencePenalty", "presence_penalty"],
  ["frequencyPenalty", "frequency_penalty"],
  ["seed", "seed"],
];

/** Whether the request asks to see the model's thoughts (thinkingConfig.includeThoughts). */
export function includesThoughts(body: Json): boolean {
  const config = fieldJson(body, "generationConfig");
  const thinking = config && fieldJson(config, "thinkingConfig");
  return thinking !== undefined && field(thinking, "includeThoughts") === true;
}

/** The OpenAI chat request for a generateContent body (with the model and stream flag the edge added). */
export function toChatFromGenerateContent(body: Json, provider: string, providerModel: string): OpenAIBody {
  const system = partsText(field(body, "systemInstruction"));
  const messages = [...(system !== "" ? [{ role: "system", content: system }] : []), ...toMessages(jsonArray(body["contents"]))];
  const chat: OpenAIBody = { model: body["model"], messages };
  if (body["stream"] === true) chat["stream"] = true;
  const tools = chatTools(body["tools"]);
  if (tools.length > 0) {
    chat["tools"] = tools;
    const choice = toolChoice(fieldJson(body, "toolConfig"));
    if (choice !== undefined) chat["tool_choice"] = choice;
  }
  const config = fieldJson(body, "generationConfig");
  if (!config) return chat;
  for (const [gemini, name] of GENERATION_FIELDS) {
    const value = field(config, gemini);
    if (value !== undefined && value !== null) chat[name] = value;
  }
  const maxTokens = field(config, "maxOutputTokens");
  if (maxTokens !== undefined && maxTokens !== null) chat[isOpenAIReasoningModel(provider, providerModel) ? "max_completion_tokens" : "max_tokens"] = maxTokens;
  const format = responseFormat(config);
  if (format) chat["response_format"] = format;
  return chat;
}
