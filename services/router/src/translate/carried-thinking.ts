import type { Json } from "../providers/provider.js";
import { jsonArray, str } from "./content.js";

// A thinking model's signed thinking (Anthropic's, as a chat completion's
// thinking_blocks), carried through the Responses API in a reasoning item's
// encrypted_content: the client hands the item back with the next turn, and
// Anthropic wants the thinking back ahead of the tool calls it led to. It is
// not encrypted (the signature already keeps it from being altered); the
// prefix tells it from OpenAI's own encrypted reasoning.

const PREFIX = "gateway-thinking:";

/** A reasoning item's encrypted_content for these thinking blocks; undefined when none is signed or redacted (nothing to give back). */
export function carriedThinking(blocks: readonly Json[]): string | undefined {
  if (!blocks.some((b) => b["type"] === "redacted_thinking" || typeof b["signature"] === "string")) return undefined;
  return PREFIX + Buffer.from(JSON.stringify(blocks)).toString("base64");
}

/** The thinking blocks a reasoning item's encrypted_content carries; undefined for anything else (OpenAI's own). */
export function thinkingCarried(encrypted: unknown): Json[] | undefined {
  if (typeof encrypted !== "string" || !encrypted.startsWith(PREFIX)) return undefined;
  try {
    const blocks = jsonArray(JSON.parse(Buffer.from(encrypted.slice(PREFIX.length), "base64").toString()));
    return blocks.length > 0 ? blocks : undefined;
  } catch {
    return undefined;
  }
}

/** Adds a streamed chunk's thinking block to those seen so far: text runs join their block, a signature closes it. */
export function addThinking(blocks: Json[], block: Json): void {
  if (block["type"] === "redacted_thinking") {
    blocks.push({ type: "redacted_thinking", data: block["data"] });
    return;
  }
  let last = blocks.at(-1);
  if (last?.["type"] !== "thinking" || last["signature"] !== undefined) {
    last = { type: "thinking", thinking: "" };
    blocks.push(last);
  }
  last["thinking"] = (str(last["thinking"]) ?? "") + (str(block["thinking"]) ?? "");
  if (typeof block["signature"] === "string") last["signature"] = block["signature"];
}
