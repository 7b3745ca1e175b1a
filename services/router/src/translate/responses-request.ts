import type { ConnectError } from "@connectrpc/connect";
import { clientJson } from "@gateway/common";
import type { Json, OpenAIBody } from "../providers/provider.js";
import { thinkingCarried } from "./carried-thinking.js";
import { badRequest, isJson, jsonArray, shown, str } from "./content.js";
import { isOpenAIReasoningModel } from "./messages-request.js";
import { unsupported, unsupportedParam } from "./params.js";

// An OpenAI Responses request as an OpenAI chat request, so /v1/responses
// reaches every deployment as a chat completion. Field names are from
// OpenAI's public Responses API reference. The gateway stores nothing: each
// request carries its whole conversation.

/** The Responses parameters that have a chat counterpart. */
const TRANSLATED = new Set(["model", "input", "instructions", "stream", "tools", "tool_choice", "parallel_tool_calls", "temperature", "top_p", "user", "max_output_tokens", "reasoning", "text"]);

/**
 * Parameters that ask for nothing a chat completion could do differently:
 * storage, caching and telemetry hints for OpenAI's side, and stream
 * options (the router asks every provider for usage itself).
 */
const IGNORED = new Set(["store", "include", "metadata", "prompt_cache_key", "safety_identifier", "service_tier", "stream_options"]);

/** Parameters that point at state kept between requests: stored responses, conversations, prompts, background runs. */
const STATEFUL = new Set(["previous_response_id", "conversation", "background", "prompt"]);

/**
 * Whether a parameter may go without a counterpart. A foreground run and
 * either truncation are ignored: without truncation an overlong input fails
 * anyway, and with "auto" it fails with the provider's own error where OpenAI
 * would have cut the conversation's middle.
 */
function isIgnored(name: string, value: unknown): boolean {
  if (name === "background") return value === false;
  if (name === "truncation") return value === "auto" || value === "disabled";
  return IGNORED.has(name);
}

/**
 * A 400 for a parameter that needs state the gateway does not keep. It is
 * refused even under drop_params: dropping it would answer without the
 * conversation the client meant.
 */
function needsState(name: string): ConnectError {
  return badRequest(`"${name}" needs responses, conversations or prompts stored between requests, which this gateway does not keep; send the whole conversation as input`, name);
}

/**
 * A hosted tool (web search, file search, code interpreter, …): OpenAI runs
 * those inside its Responses API, and a chat completion has no counterpart
 * on any provider.
 */
function unsupportedTool(type: string, provider: string): ConnectError {
  return unsupported(`${provider} deployments answer /v1/responses through chat completions, which do not support tools of type "${type}"`, "tools");
}

function unsupportedPart(part: Json): ConnectError {
  return badRequest(`content parts of type "${shown(part["type"])}" are not supported for this model`, "input");
}

/** The text of a text or refusal part (a refusal read back is what the model said); undefined for other parts. */
function partText(part: Json): string | undefined {
  const type = part["type"];
  if (type === "input_text" || type === "output_text") return str(part["text"]) ?? "";
  return type === "refusal" ? (str(part["refusal"]) ?? "") : undefined;
}

/**
 * Content of text parts (a string is one) as one string: assistant and tool
 * content, which OpenAI-compatible servers take best as a string.
 */
function joinedText(content: unknown): string {
  if (typeof content === "string") return content;
  return jsonArray(content)
    .map((part) => {
      const text = partText(part);
      if (text === undefined) throw unsupportedPart(part);
      return text;
    })
    .join("");
}

/** An image by URL (a data URL included); a file_id points into OpenAI's file store, which the gateway cannot read. */
function imagePart(part: Json): Json {
  const url = str(part["image_url"]);
  if (url === undefined) throw badRequest("input_image parts need an image_url (a URL or a data URL); file_id is not supported", "input");
  const detail = str(part["detail"]);
  return { type: "image_url", image_url: { url, ...(detail !== undefined && { detail }) } };
}

/** A file sent inline; the gateway cannot fetch one by file_id or file_url. */
function filePart(part: Json): Json {
  const data = str(part["file_data"]);
  if (data === undefined) throw badRequest("input_file parts need file_data; file_id and file_url are not supported", "input");
  const filename = str(part["filename"]);
  return { type: "file", file: { file_data: data, ...(filename !== undefined && { filename }) } };
}

function chatPart(part: Json): Json {
  const text = partText(part);
  if (text !== undefined) return { type: "text", text };
  if (part["type"] === "input_image") return imagePart(part);
  if (part["type"] === "input_file") return filePart(part);
  throw unsupportedPart(part);
}

/** User, system or developer content: a lone text part as a plain string, which every OpenAI-compatible server takes. */
function messageContent(content: unknown): string | Json[] {
  if (typeof content === "string") return content;
  const parts = jsonArray(content).map(chatPart);
  return parts.length === 1 && parts[0]?.["type"] === "text" ? (str(parts[0]["text"]) ?? "") : parts;
}

function message(item: Json): Json {
  const role = item["role"];
  if (role === "assistant") return { role, content: joinedText(item["content"]) };
  if (role === "user" || role === "system" || role === "developer") return { role, content: messageContent(item["content"]) };
  throw badRequest(`input message role must be user, assistant, system or developer, not "${shown(role)}"`, "input");
}

/**
 * A function_call item as a tool call of the assistant message just before
 * it, when there is one: a chat completion carries a turn's text and its
 * parallel calls in one assistant message.
 */
function addFunctionCall(messages: Json[], item: Json): void {
  const args = item["arguments"];
  const call = { id: item["call_id"], type: "function", function: { name: item["name"], arguments: typeof args === "string" ? args : clientJson(args ?? {}, "input") } };
  const last = messages.at(-1);
  if (last?.["role"] !== "assistant") {
    messages.push({ role: "assistant", content: null, tool_calls: [call] });
    return;
  }
  // The tool_calls array is one this function made: growing it in place
  // keeps a turn of thousands of calls from copying it for each one.
  const calls = last["tool_calls"];
  if (Array.isArray(calls)) calls.push(call);
  else last["tool_calls"] = [call];
  if (last["content"] === "") last["content"] = null;
}

/**
 * The input as chat messages, in order; a string is one user message.
 * Reasoning items are the model's notes, summarized or encrypted for OpenAI
 * alone, which a chat completion cannot take back; except, for a deployment
 * that `keepsThinking`, the signed thinking the gateway carried in one
 * (carried-thinking.ts), which goes back as the next assistant message's
 * thinking_blocks.
 */
function inputMessages(input: unknown, keepsThinking: boolean): Json[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  const messages: Json[] = [];
  let thinking: Json[] | undefined;
  for (const item of jsonArray(input)) {
    const type = item["type"] ?? "message";
    const before = messages.length;
    if (type === "message") messages.push(message(item));
    else if (type === "function_call") addFunctionCall(messages, item);
    else if (type === "function_call_output") messages.push({ role: "tool", tool_call_id: item["call_id"], content: joinedText(item["output"]) });
    else if (type === "reasoning") thinking = keepsThinking ? (thinkingCarried(item["encrypted_content"]) ?? thinking) : undefined;
    else throw badRequest(`input items of type "${shown(type)}" are not supported for this model`, "input");
    // The thinking goes with the assistant turn that follows it, and with nothing after another message.
    if (messages.length > before || type === "function_call") {
      const last = messages.at(-1)!;
      if (thinking && last["role"] === "assistant") last["thinking_blocks"] = thinking;
      thinking = undefined;
    }
  }
  return messages;
}

// The providers whose translation hands an assistant message's thinking_blocks back to the model (Anthropic's Claude, also on Bedrock and Vertex AI).
const KEEPS_THINKING: ReadonlySet<string> = new Set(["anthropic", "bedrock", "vertex_ai"]);

function functionTool(tool: Json): Json {
  const description = str(tool["description"]);
  const strict = tool["strict"];
  return {
    type: "function",
    function: {
      name: tool["name"],
      ...(description !== undefined && { description }),
      parameters: isJson(tool["parameters"]) ? tool["parameters"] : { type: "object", properties: {} },
      ...(typeof strict === "boolean" && { strict }),
    },
  };
}

/** Function tools as chat tools; hosted tools are dropped under drop_params, and refused when not. */
function chatTools(value: unknown, dropParams: boolean, provider: string): Json[] {
  const tools: Json[] = [];
  for (const tool of jsonArray(value)) {
    if (tool["type"] === "function") tools.push(functionTool(tool));
    else if (!dropParams) throw unsupportedTool(shown(tool["type"]), provider);
  }
  return tools;
}

function toolChoice(choice: unknown): unknown {
  if (choice === "auto" || choice === "none" || choice === "required") return choice;
  if (isJson(choice) && choice["type"] === "function" && typeof choice["name"] === "string") return { type: "function", function: { name: choice["name"] } };
  throw badRequest('tool_choice must be auto, none, required or {"type": "function", "name": …}', "tool_choice");
}

/**
 * The chat request's tools, tool_choice and parallel_tool_calls. Chat
 * completions refuse the last two without tools, so they go only with tools
 * left to call (drop_params may have dropped them all).
 */
function toolFields(body: Json, dropParams: boolean, provider: string): Json {
  const tools = chatTools(body["tools"], dropParams, provider);
  const choice = body["tool_choice"] === undefined ? undefined : toolChoice(body["tool_choice"]);
  if (tools.length === 0) return {};
  return { tools, ...(choice !== undefined && { tool_choice: choice }), ...(body["parallel_tool_calls"] !== undefined && { parallel_tool_calls: body["parallel_tool_calls"] }) };
}

/** text.format as a response_format; plain text is the default and needs none. */
function responseFormat(format: unknown): Json | undefined {
  if (!isJson(format) || format["type"] === "text") return undefined;
  if (format["type"] === "json_object") return { type: "json_object" };
  if (format["type"] !== "json_schema") throw badRequest("text.format.type must be text, json_object or json_schema", "text");
  const description = str(format["description"]);
  const strict = format["strict"];
  return {
    type: "json_schema",
    json_schema: { name: format["name"], schema: format["schema"], ...(typeof strict === "boolean" && { strict }), ...(description !== undefined && { description }) },
  };
}

/** The chat fields of `text`: its format, and its verbosity for OpenAI's and Azure's models, the only ones that take one. */
function textFields(text: Json, provider: string): Json {
  const format = responseFormat(text["format"]);
  const verbosity = str(text["verbosity"]);
  return { ...(format && { response_format: format }), ...(verbosity !== undefined && (provider === "openai" || provider === "azure") && { verbosity }) };
}

/**
 * The OpenAI chat request for a Responses body. Parameters without a chat
 * counterpart are dropped under drop_params, and refused with a 400 naming
 * them when not; those that need stored state are refused either way.
 */
export function toChatFromResponses(body: Json, dropParams: boolean, provider: string, providerModel: string): OpenAIBody {
  // Clients send null for a parameter they leave at its default.
  const given: Json = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  for (const [name, value] of Object.entries(given)) {
    if (TRANSLATED.has(name) || isIgnored(name, value)) continue;
    if (STATEFUL.has(name)) throw needsState(name);
    if (!dropParams) throw unsupportedParam(name, provider);
  }
  const instructions = str(given["instructions"]);
  const messages = [...(instructions ? [{ role: "system", content: instructions }] : []), ...inputMessages(given["input"], KEEPS_THINKING.has(provider))];
  const chat: OpenAIBody = { model: given["model"], messages, ...toolFields(given, dropParams, provider) };
  if (typeof given["stream"] === "boolean") chat["stream"] = given["stream"];
  for (const name of ["temperature", "top_p", "user"]) if (given[name] !== undefined) chat[name] = given[name];
  if (given["max_output_tokens"] !== undefined) chat[isOpenAIReasoningModel(provider, providerModel) ? "max_completion_tokens" : "max_tokens"] = given["max_output_tokens"];
  const reasoning = given["reasoning"];
  if (isJson(reasoning) && typeof reasoning["effort"] === "string") chat["reasoning_effort"] = reasoning["effort"];
  if (isJson(given["text"])) Object.assign(chat, textFields(given["text"], provider));
  return chat;
}
