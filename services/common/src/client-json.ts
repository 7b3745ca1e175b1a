import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

/**
 * JSON text of something the client sent. JSON.parse takes nesting deeper
 * than JSON.stringify's recursion can write back (it overflows the stack a
 * few thousand levels down): that is a bad request, not a provider failure.
 */
export function clientJson(value: unknown, param?: string): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw gatewayError("request body is nested too deeply", Code.InvalidArgument, { type: "invalid_request_error", ...(param !== undefined && { param }) });
  }
}

// Text Postgres cannot keep: NUL (text and jsonb both refuse it) and UTF-16
// surrogates without their other half (no character at all).
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Deeper than any setting or metadata needs; far short of what overflows JSON.stringify.
const MAX_STORED_DEPTH = 64;

const unstorable = (message: string, param: string) => gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });

/** Whether Postgres can keep this text. */
export const storableText = (text: string): boolean => !UNSTORABLE.test(text);

/**
 * Checks that a management request's body can be kept as it is: nested at
 * most 64 deep, with no NUL character and no unpaired surrogate in any
 * string or name. A 400 naming the top-level field that holds the problem.
 */
export function checkStorable(body: Record<string, unknown>): void {
  const stack: { value: unknown; field: string; depth: number }[] = [];
  for (const [field, value] of Object.entries(body)) {
    if (!storableText(field)) throw unstorable("a field's name holds a NUL character or an unpaired surrogate", "");
    stack.push({ value, field, depth: 1 });
  }
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, field, depth } = item;
    if (typeof value === "string") {
      if (!storableText(value)) throw unstorable(`${field} holds a NUL character or an unpaired surrogate`, field);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (depth >= MAX_STORED_DEPTH) throw unstorable(`${field} is nested more than ${MAX_STORED_DEPTH} levels deep`, field);
    for (const [name, inner] of Object.entries(value)) {
      if (!storableText(name)) throw unstorable(`${field} holds a NUL character or an unpaired surrogate`, field);
      stack.push({ value: inner, field, depth: depth + 1 });
    }
  }
}
