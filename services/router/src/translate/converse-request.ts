import type { Json } from "../providers/provider.js";
import { badRequest, isJson, jsonArray, shown, str } from "./content.js";

// An Anthropic Messages request as a Bedrock Converse request, for bedrock/
// deployments: OpenAI chat requests reach it through toAnthropicRequest, and
// /v1/messages requests as they came. Field names are from both public API
// references.

// Fields of a Messages request that Converse has no place for and that mean
// nothing to the model.
const LEFT_OUT = new Set(["model", "stream", "metadata", "service_tier"]);
// Fields Converse has places of its own for (the rest go to the model as additionalModelRequestFields).
const MAPPED = new Set(["messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences", "tools", "tool_choice"]);

const IMAGE_FORMATS: Record<string, string> = { "image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp" };
const DOCUMENT_FORMATS: Record<string, string> = {
  "application/pdf": "pdf",
  "text/plain": "txt",
  "text/csv": "csv",
  "text/html": "html",
  "text/markdown": "md",
};

const CACHE_POINT = { cachePoint: { type: "default" } };

/** Numbers each document of a request, as Converse wants a distinct name for each. */
interface Documents {
  count: number;
}

function base64Source(block: Json, formats: Record<string, string>, kind: string): { format: string; source: Json } {
  const source = isJson(block["source"]) ? block["source"] : {};
  if (source["type"] !== "base64") throw badRequest(`bedrock takes ${kind}s as base64 data, not as ${shown(source["type"])}`, "messages");
  const mediaType = source["media_type"];
  // Own keys alone: "constructor" would find Object's.
  const format = typeof mediaType === "string" && Object.hasOwn(formats, mediaType) ? formats[mediaType] : undefined;
  if (format === undefined) throw badRequest(`bedrock does not take ${kind}s of type ${shown(mediaType)}`, "messages");
  return { format, source: { bytes: source["data"] } };
}

/** A document's format and source: base64 data as bytes, plain text (a text source) as Converse's text source. */
function documentSource(block: Json): { format: string; source: Json } {
  const source = isJson(block["source"]) ? block["source"] : {};
  if (source["type"] === "text") return { format: "txt", source: { text: str(source["data"]) ?? "" } };
  if (source["type"] !== "base64") throw badRequest(`bedrock takes documents as base64 data or plain text, not as ${shown(source["type"])}`, "messages");
  return base64Source(block, DOCUMENT_FORMATS, "document");
}

function toolResultContent(content: unknown, documents: Documents): Json[] {
  if (typeof content === "string") return content === "" ? [] : [{ text: content }];
  return jsonArray(content).map((block) => contentBlock(block, documents));
}

/** One Anthropic content block as a Converse one. */
function contentBlock(block: Json, documents: Documents): Json {
  switch (block["type"]) {
    case "text":
      return { text: str(block["text"]) ?? "" };
    case "image":
      return { image: base64Source(block, IMAGE_FORMATS, "image") };
    case "document":
      documents.count += 1;
      return { document: { ...documentSource(block), name: `document-${documents.count}` } };
    case "tool_use":
      return { toolUse: { toolUseId: block["id"], name: block["name"], input: isJson(block["input"]) ? block["input"] : {} } };
    case "tool_result":
      return {
        toolResult: {
          toolUseId: block["tool_use_id"],
          content: toolResultContent(block["content"], documents),
          ...(block["is_error"] === true && { status: "error" }),
        },
      };
    case "thinking":
      return { reasoningContent: { reasoningText: { text: str(block["thinking"]) ?? "", signature: str(block["signature"]) ?? "" } } };
    case "redacted_thinking":
      return { reasoningContent: { redactedContent: block["data"] } };
    default:
      throw badRequest(`content blocks of type "${shown(block["type"])}" are not supported by bedrock models`, "messages");
  }
}

/** Content as Converse blocks, with a cache point after each block Anthropic's cache_control marked. */
function contentBlocks(content: unknown, documents: Documents): Json[] {
  if (typeof content === "string") return [{ text: content }];
  const blocks: Json[] = [];
  for (const block of jsonArray(content)) {
    blocks.push(contentBlock(block, documents));
    if (isJson(block["cache_control"])) blocks.push(CACHE_POINT);
  }
  return blocks;
}

function toolConfig(tools: unknown, choice: unknown): Json {
  const specs: Json[] = [];
  for (const tool of jsonArray(tools)) {
    if (tool["type"] !== undefined && tool["type"] !== "custom") throw badRequest(`tools of type "${shown(tool["type"])}" are not supported by bedrock models`, "tools");
    const schema = isJson(tool["input_schema"]) ? tool["input_schema"] : { type: "object", properties: {} };
    specs.push({ toolSpec: { name: tool["name"], ...(typeof tool["description"] === "string" && { description: tool["description"] }), inputSchema: { json: schema } } });
    if (isJson(tool["cache_control"])) specs.push(CACHE_POINT);
  }
  const config: Json = { tools: specs };
  const type = isJson(choice) ? choice["type"] : undefined;
  if (type === "auto" || type === "any") config["toolChoice"] = { [type]: {} };
  else if (type === "tool" && isJson(choice)) config["toolChoice"] = { tool: { name: choice["name"] } };
  return config;
}

/**
 * Whether the request offers its tools. Converse has no tool_choice "none":
 * such a request offers none, unless the conversation already holds tool
 * calls or results, which Converse takes only beside the tools (the model
 * then sees them and may call one).
 */
function offersTools(body: Json, messages: Json[]): boolean {
  if (!Array.isArray(body["tools"]) || body["tools"].length === 0) return false;
  if (!isJson(body["tool_choice"]) || body["tool_choice"]["type"] !== "none") return true;
  return messages.some((m) => jsonArray(m["content"]).some((block) => "toolUse" in block || "toolResult" in block));
}

/**
 * The Converse request for an Anthropic Messages body (for a `claude`
 * model, asking it which stop sequence ended the answer). max_tokens, when
 * `withMaxTokens` is false, is left for the model's default (an OpenAI
 * client that set none). Fields Converse has no place for (top_k,
 * thinking, …) go to the model as additionalModelRequestFields.
 */
export function toConverseRequest(body: Json, withMaxTokens: boolean, claude: boolean): Json {
  const documents: Documents = { count: 0 };
  // Anthropic takes several turns of one role in a row; Converse wants them to alternate: they become one turn.
  const messages: Json[] = [];
  for (const m of jsonArray(body["messages"])) {
    const content = contentBlocks(m["content"], documents);
    const previous = messages.at(-1);
    if (previous?.["role"] === m["role"]) (previous!["content"] as Json[]).push(...content);
    else messages.push({ role: m["role"], content });
  }
  const request: Json = { messages };
  const system = body["system"];
  if (system !== undefined && system !== "") request["system"] = contentBlocks(system, documents);

  const inference: Json = {};
  if (withMaxTokens && typeof body["max_tokens"] === "number") inference["maxTokens"] = body["max_tokens"];
  if (typeof body["temperature"] === "number") inference["temperature"] = body["temperature"];
  if (typeof body["top_p"] === "number") inference["topP"] = body["top_p"];
  if (Array.isArray(body["stop_sequences"]) && body["stop_sequences"].length > 0) {
    inference["stopSequences"] = body["stop_sequences"];
    // Converse does not say which one matched; Claude does, when asked.
    if (claude) request["additionalModelResponseFieldPaths"] = ["/stop_sequence"];
  }
  if (Object.keys(inference).length > 0) request["inferenceConfig"] = inference;

  if (offersTools(body, request["messages"] as Json[])) request["toolConfig"] = toolConfig(body["tools"], body["tool_choice"]);

  const additional: Json = {};
  for (const name in body) {
    if (!LEFT_OUT.has(name) && !MAPPED.has(name) && body[name] !== undefined && body[name] !== null) additional[name] = body[name];
  }
  if (Object.keys(additional).length > 0) request["additionalModelRequestFields"] = additional;
  return request;
}
