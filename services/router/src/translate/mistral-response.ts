import type { ChatChunk, Json } from "../providers/provider.js";
import { isJson, jsonArray, str } from "./content.js";

// Mistral's answers in OpenAI's shapes. They already are, but for two things:
// its reasoning models (Magistral) answer in content blocks (thinking, then
// text) where OpenAI's clients read a string, and a stream's usage comes on
// its last chunk of choices, unasked, where OpenAI sends a chunk of its own.

/**
 * Content blocks as OpenAI's clients read them: the text as `content`, the
 * thinking as `reasoning_content`. False when the content was a string
 * already (nothing changed).
 */
function flattenContent(holder: Json | undefined): boolean {
  const content = holder?.["content"];
  if (!holder || !Array.isArray(content)) return false;
  let text: string | null = null;
  let thinking = "";
  for (const block of jsonArray(content)) {
    if (block["type"] === "text") text = (text ?? "") + (str(block["text"]) ?? "");
    else if (block["type"] === "thinking") {
      for (const part of jsonArray(block["thinking"])) if (part["type"] === "text") thinking += str(part["text"]) ?? "";
    }
  }
  holder["content"] = text;
  if (thinking !== "") holder["reasoning_content"] = thinking;
  return true;
}

/** Each choice's content flattened and Mistral's "model_length" named as OpenAI names it; false when nothing changed. */
function normalizeChoices(json: Json, part: "message" | "delta"): boolean {
  let changed = false;
  for (const choice of jsonArray(json["choices"])) {
    if (flattenContent(choice[part] as Json | undefined)) changed = true;
    if (choice["finish_reason"] === "model_length") {
      choice["finish_reason"] = "length";
      changed = true;
    }
  }
  return changed;
}

/** A whole answer, normalized in place; false when it is passed on as Mistral sent it. */
export function normalizeMistralAnswer(answer: Json): boolean {
  return normalizeChoices(answer, "message");
}

/** A stream's chunks as OpenAI's: blocks flattened, and the usage moved to a chunk of its own after the last one. */
export async function* fromMistralChunks(chunks: AsyncIterable<ChatChunk>): AsyncGenerator<ChatChunk> {
  for await (const chunk of chunks) {
    const { json } = chunk;
    const changed = normalizeChoices(json, "delta");
    const usage = json["usage"];
    if (!isJson(usage) || jsonArray(json["choices"]).length === 0) {
      yield changed ? { json } : chunk;
      continue;
    }
    json["usage"] = undefined;
    yield { json };
    yield { json: { id: json["id"], object: json["object"], created: json["created"], model: json["model"], choices: [], usage } };
  }
}
