import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, isJson, jsonArray, parseArguments, parseDataUrl, shown, str } from "./content.js";
import { geminiThinkingConfig } from "./reasoning.js";
import { signatureFor } from "./thought-signatures.js";

// An OpenAI chat request as a Gemini generateContent request, for gemini/
// deployments. Field names are from both public API references.

/** The OpenAI chat parameters this translation carries over. */
export const GEMINI_CHAT_PARAMS: ReadonlySet<string> = new Set([
  "model",
  "messages",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "top_k",
  "stop",
  "n",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "response_format",
  "stream",
  "stream_options",
  "tools",
  "tool_choice",
  "reasoning_effort",
  // Gemini has no end-user field; the id only attributes requests, so it changes nothing to leave it out.
  "user",
]);

function imagePart(part: Json): Json {
  const image = part["image_url"];
  const url = typeof image === "string" ? image : isJson(image) ? (str(image["url"]) ?? "") : "";
  const inline = parseDataUrl(url);
  // Gemini fetches no URLs itself; images travel inline.
  if (!inline) throw badRequest("gemini models take images as base64 data: URLs", "messages");
  return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
}

/** A file part (a PDF, say) as inline data, which Gemini reads as it reads images; a file_id names nothing Gemini has. */
function filePart(part: Json): Json {
  const file = isJson(part["file"]) ? part["file"] : {};
  const inline = parseDataUrl(str(file["file_data"]) ?? "");
  if (!inline) throw badRequest("gemini models take files as base64 data: URLs in file_data", "messages");
  return { inlineData: { mimeType: inline.mediaType, data: inline.data } };
}

/** Message content as Gemini parts; empty text is left out, as Gemini refuses it. */
function parts(content: unknown): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  return jsonArray(content).flatMap((part) => {
    if (part["type"] === "text") return part["text"] === "" ? [] : [{ text: str(part["text"]) ?? "" }];
    if (part["type"] === "image_url") return [imagePart(part)];
    if (part["type"] === "file") return [filePart(part)];
    throw badRequest(`content parts of type "${shown(part["type"])}" are not supported by gemini models`, "messages");
  });
}

function functionCallParts(toolCalls: unknown, names: Map<string, string>, providerModel: string): Json[] {
  return jsonArray(toolCalls).map((call, i) => {
    const fn = isJson(call["function"]) ? call["function"] : {};
    const args = parseArguments(fn["arguments"]);
    if (!args) throw badRequest("tool call arguments must be a JSON object", "messages");
    const name = str(fn["name"]) ?? "";
    if (typeof call["id"] === "string") names.set(call["id"], name);
    const signature = signatureFor(call["id"], i === 0, providerModel);
    return { functionCall: { name, args }, ...(signature !== undefined && { thoughtSignature: signature }) };
  });
}

/**
 * A tool message as a functionResponse, which Gemini names by function (OpenAI
 * by call id). Its text parts go on separate lines, as separate blocks of a
 * result read (Gemini's response holds one text).
 */
function functionResponsePart(message: Json, names: Map<string, string>): Json {
  const content = message["content"];
  const text = typeof content === "string" ? content : jsonArray(content).filter((part) => part["type"] === "text").map((part) => str(part["text"]) ?? "").join("\n");
  const name = names.get(str(message["tool_call_id"]) ?? "");
  if (name === undefined) throw badRequest("a tool message answers no earlier tool call (tool_call_id)", "messages");
  let response: Json;
  try {
    const parsed: unknown = JSON.parse(text);
    response = isJson(parsed) ? parsed : { content: parsed };
  } catch {
    response = { content: text };
  }
  return { functionResponse: { name, response } };
}

/**
 * Puts each turn's function responses in the order of the calls they answer:
 * Gemini pairs a turn's responses with the calls before it by position (and
 * name), where OpenAI pairs them by call id, in any order. Other parts keep
 * their places.
 */
function inCallOrder(turns: { role: string; parts: Json[] }[], calls: ReadonlyMap<string, string>, answers: ReadonlyMap<Json, string>): void {
  const rank = new Map([...calls.keys()].map((id, i) => [id, i]));
  for (const turn of turns) {
    const slots = turn.parts.flatMap((part, i) => (answers.has(part) ? [i] : []));
    if (slots.length < 2) continue;
    const sorted = slots.map((i) => turn.parts[i]!).sort((a, b) => rank.get(answers.get(a)!)! - rank.get(answers.get(b)!)!);
    slots.forEach((slot, i) => (turn.parts[slot] = sorted[i]!));
  }
}

function contents(messages: unknown, providerModel: string): { system: Json[]; contents: Json[] } {
  const system: Json[] = [];
  const turns: { role: string; parts: Json[] }[] = [];
  const names = new Map<string, string>();
  // Each function response part, by the call id it answers.
  const answers = new Map<Json, string>();
  const add = (role: string, added: Json[]) => {
    if (added.length === 0) return;
    const previous = turns.at(-1);
    if (previous?.role === role) previous.parts.push(...added);
    else turns.push({ role, parts: added });
  };
  for (const message of jsonArray(messages)) {
    const role = message["role"];
    if (role === "system" || role === "developer") system.push(...parts(message["content"]));
    else if (role === "user") add("user", parts(message["content"]));
    else if (role === "assistant") add("model", [...parts(message["content"]), ...functionCallParts(message["tool_calls"], names, providerModel)]);
    else if (role === "tool") {
      const answer = functionResponsePart(message, names);
      answers.set(answer, str(message["tool_call_id"])!);
      add("user", [answer]);
    } else throw badRequest(`messages with role "${shown(role)}" are not supported by gemini models`, "messages");
  }
  if (answers.size > 1) inCallOrder(turns, names, answers);
  return { system, contents: turns };
}

function tools(value: unknown): Json[] {
  const declarations = jsonArray(value).map((tool) => {
    const fn = tool["function"];
    if (tool["type"] !== "function" || !isJson(fn)) throw badRequest("only function tools are supported by gemini models", "tools");
    return {
      name: fn["name"],
      ...(typeof fn["description"] === "string" && { description: fn["description"] }),
      ...(isJson(fn["parameters"]) && { parametersJsonSchema: fn["parameters"] }),
    };
  });
  return [{ functionDeclarations: declarations }];
}

function toolConfig(choice: unknown): Json | undefined {
  if (choice === undefined || choice === "auto") return undefined;
  if (choice === "required") return { functionCallingConfig: { mode: "ANY" } };
  if (choice === "none") return { functionCallingConfig: { mode: "NONE" } };
  if (isJson(choice) && isJson(choice["function"])) {
    return { functionCallingConfig: { mode: "ANY", allowedFunctionNames: [choice["function"]["name"]] } };
  }
  throw badRequest("tool_choice must be auto, required, none or a function", "tool_choice");
}

/** response_format as Gemini's JSON mode. */
function responseFormat(format: unknown): Json {
  if (!isJson(format) || format["type"] === "text") return {};
  if (format["type"] === "json_object") return { responseMimeType: "application/json" };
  const schema = isJson(format["json_schema"]) ? format["json_schema"]["schema"] : undefined;
  if (format["type"] === "json_schema" && isJson(schema)) return { responseMimeType: "application/json", responseJsonSchema: schema };
  throw badRequest("response_format must be text, json_object or json_schema with a schema", "response_format");
}

const GENERATION_CONFIG: [openai: string, gemini: string][] = [
  ["temperature", "temperature"],
  ["top_p", "topP"],
  ["top_k", "topK"],
  ["n", "candidateCount"],
  ["presence_penalty", "presencePenalty"],
  ["frequency_penalty", "frequencyPenalty"],
  ["seed", "seed"],
];

function generationConfig(body: OpenAIBody, providerModel: string): Json {
  const config: Json = {};
  const thinking = geminiThinkingConfig(body, providerModel);
  if (thinking) config["thinkingConfig"] = thinking;
  for (const [from, to] of GENERATION_CONFIG) if (body[from] !== undefined && body[from] !== null) config[to] = body[from];
  const maxTokens = body["max_completion_tokens"] ?? body["max_tokens"];
  if (typeof maxTokens === "number") config["maxOutputTokens"] = maxTokens;
  const stop = body["stop"];
  if (typeof stop === "string") config["stopSequences"] = [stop];
  else if (Array.isArray(stop)) config["stopSequences"] = stop;
  return { ...config, ...responseFormat(body["response_format"]) };
}

/** The generateContent request for an OpenAI chat body (already fitted to GEMINI_CHAT_PARAMS) to a Gemini model. */
export function toGeminiRequest(body: OpenAIBody, providerModel: string): Json {
  const { system, contents: turns } = contents(body["messages"], providerModel);
  const request: Json = { contents: turns };
  if (system.length > 0) request["systemInstruction"] = { parts: system };
  if (Array.isArray(body["tools"]) && body["tools"].length > 0) {
    request["tools"] = tools(body["tools"]);
    const config = toolConfig(body["tool_choice"]);
    if (config) request["toolConfig"] = config;
  }
  const config = generationConfig(body, providerModel);
  if (Object.keys(config).length > 0) request["generationConfig"] = config;
  return request;
}
