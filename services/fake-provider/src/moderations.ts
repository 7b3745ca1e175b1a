import type { ServerResponse } from "node:http";
import { isRecord, sendJson, textOf, type Json, type Reject } from "./reply.js";

// OpenAI's moderations, judged by one rule so a test knows the verdict: a
// text that says "kill" is flagged for violence, anything else passes. Each
// string of a list is judged apart; a list of text and image parts is one input.

const CATEGORIES = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/intent",
  "self-harm/instructions",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
];

interface Judged {
  text: string;
  /** The kinds of input it holds ("text", "image"). */
  types: string[];
}

/** The inputs judged apart; undefined for an input OpenAI refuses. */
function inputsOf(input: unknown): Judged[] | undefined {
  if (typeof input === "string") return input === "" ? undefined : [{ text: input, types: ["text"] }];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((item) => typeof item === "string")) return input.map((text: string) => ({ text, types: ["text"] }));
  if (!input.every(isRecord)) return undefined;
  return [{ text: textOf(input), types: input.some((part) => part.type === "image_url") ? ["text", "image"] : ["text"] }];
}

function verdict({ text, types }: Judged): Json {
  const violent = /\bkill/i.test(text);
  const flags = (category: string) => violent && category === "violence";
  return {
    flagged: violent,
    categories: Object.fromEntries(CATEGORIES.map((c) => [c, flags(c)])),
    category_scores: Object.fromEntries(CATEGORIES.map((c) => [c, flags(c) ? 0.97 : 0.0001])),
    category_applied_input_types: Object.fromEntries(CATEGORIES.map((c) => [c, types])),
  };
}

export function moderate(res: ServerResponse, body: Json, reject: Reject, id: string): void {
  const inputs = inputsOf(body.input);
  if (!inputs) return reject("'input' must be a non-empty string or array.", "input");
  // OpenAI's default model when the request names none.
  const model = typeof body.model === "string" ? body.model : "omni-moderation-latest";
  sendJson(res, 200, { id, model, results: inputs.map(verdict) });
}
