import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

type Json = Record<string, unknown>;

// How each API names a field in its errors: OpenAI `messages[0].role must…`,
// Anthropic `messages.0.role: …`.
const STYLES = {
  openai: { entry: (i: number) => `messages[${i}]`, says: " " },
  anthropic: { entry: (i: number) => `messages.${i}`, says: ": " },
};

/**
 * Throws an InvalidArgument error unless `messages` is a non-empty list of
 * objects that each name their role, as OpenAI and Anthropic both require:
 * anything else would only come back from the provider as its 400, or trip
 * the gateway's own reading of the messages (token estimates, translation).
 */
export function checkMessageList(messages: unknown, api: keyof typeof STYLES): void {
  const { entry, says } = STYLES[api];
  if (!Array.isArray(messages) || messages.length === 0) throw invalid(`messages${says}must be a non-empty array`);
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i];
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw invalid(`${entry(i)}${says}must be an object`);
    if (typeof (m as { role?: unknown }).role !== "string") throw invalid(`${entry(i)}.role${says}must be a string`);
  }
}

/**
 * Throws an InvalidArgument error unless the system prompt and each
 * message's content are what Anthropic's Messages API takes: a string, or a
 * list of content blocks (objects whose fields are of their types, below),
 * the system prompt's all text blocks. Checked on a list checkMessageList
 * let through. The translation for other providers reads no other shape, so
 * it left such content out of the conversation (or sent a text block as "")
 * without a word, and passed a tool call's id or name on as it came, for the
 * provider's own 400, where Anthropic answers a 400 naming the field.
 */
export function checkMessagesContent(system: unknown, messages: { content?: unknown }[]): void {
  if (system !== undefined && system !== null) checkBlocks(system, "system", "system", "a list of text blocks", true);
  for (let i = 0; i < messages.length; i++) checkBlocks(messages[i]?.content, `messages.${i}.content`, "messages", "a list of content blocks", false);
}

function checkBlocks(content: unknown, field: string, param: string, list: string, textOnly: boolean): void {
  if (typeof content === "string") return;
  if (!Array.isArray(content)) throw invalid(`${field}: must be a string or ${list}`, param);
  for (let i = 0; i < content.length; i++) {
    const block: unknown = content[i];
    if (!isObject(block)) throw invalid(`${field}.${i}: must be an object`, param);
    if (textOnly && block["type"] !== "text") throw invalid(`${field}.${i}.type: must be "text"`, param);
    checkBlock(block, `${field}.${i}`, param);
  }
}

/** A JSON object: not null, not a list. */
export const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const isString = (value: unknown) => typeof value === "string";

// The fields of the content blocks Anthropic documents, each with its type:
// one it requires must be there, one it does not (optional) is checked when
// given, null taken as unset. A block of another type is left as it came:
// Anthropic adds kinds of blocks, and the provider knows its own.
const BLOCK_FIELDS = new Map<string, [name: string, takes: (value: unknown) => boolean, expected: string, optional?: true][]>([
  ["text", [["text", isString, "a string"]]],
  ["image", [["source", isObject, "an object"]]],
  ["document", [["source", isObject, "an object"]]],
  ["tool_use", [["id", isString, "a string"], ["name", isString, "a string"], ["input", isObject, "an object", true]]],
  ["tool_result", [["tool_use_id", isString, "a string"], ["is_error", (value) => typeof value === "boolean", "a boolean", true]]],
  ["thinking", [["thinking", isString, "a string"], ["signature", isString, "a string"]]],
  ["redacted_thinking", [["data", isString, "a string"]]],
]);

/** Throws an InvalidArgument error naming the first field of the block that is not of its type. */
function checkBlock(block: Json, field: string, param: string): void {
  const type = block["type"];
  for (const [name, takes, expected, optional] of BLOCK_FIELDS.get(type as string) ?? []) {
    const value = block[name];
    if (optional && (value === undefined || value === null)) continue;
    if (!takes(value)) throw invalid(`${field}.${name}: must be ${expected}`, param);
  }
  if (type === "image" || type === "document") checkSource(block["source"] as Json, `${field}.source`, param);
  // A tool result holds content as a message does (text, images, documents), or none.
  const content = block["content"];
  if (type === "tool_result" && content !== undefined && content !== null) checkBlocks(content, `${field}.content`, param, "a list of content blocks", false);
}

// The string fields Anthropic requires of each kind of image or document source.
const SOURCE_FIELDS = new Map([
  ["base64", ["media_type", "data"]],
  ["text", ["media_type", "data"]],
  ["url", ["url"]],
  ["file", ["file_id"]],
]);

/**
 * Throws an InvalidArgument error unless the source names its type and
 * holds that type's fields as strings. The translation for other providers
 * made a data URL of whatever base64 source it was given ("undefined" for
 * a missing field), for the provider's own 400.
 */
function checkSource(source: Json, field: string, param: string): void {
  const type = source["type"];
  if (typeof type !== "string") throw invalid(`${field}.type: must be a string`, param);
  for (const name of SOURCE_FIELDS.get(type) ?? []) if (typeof source[name] !== "string") throw invalid(`${field}.${name}: must be a string`, param);
}

function invalid(message: string, param = "messages") {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}
