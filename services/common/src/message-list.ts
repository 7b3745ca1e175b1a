import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

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
 * list of content blocks (objects, a text block's text a string), the system
 * prompt's all text blocks. Checked on a list checkMessageList let through.
 * The translation for other providers reads no other shape, so it left
 * such content out of the conversation (or sent a text block as "") without
 * a word, where Anthropic answers a 400.
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
    if (typeof block !== "object" || block === null || Array.isArray(block)) throw invalid(`${field}.${i}: must be an object`, param);
    const { type, text } = block as { type?: unknown; text?: unknown };
    if (textOnly && type !== "text") throw invalid(`${field}.${i}.type: must be "text"`, param);
    if (type === "text" && typeof text !== "string") throw invalid(`${field}.${i}.text: must be a string`, param);
  }
}

function invalid(message: string, param = "messages") {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}
