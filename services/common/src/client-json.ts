import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

const nestedTooDeeply = (param?: string) =>
  gatewayError("request body is nested too deeply", Code.InvalidArgument, { type: "invalid_request_error", ...(param !== undefined && { param }) });

/**
 * JSON text of something the client sent. JSON.parse takes nesting deeper
 * than JSON.stringify's recursion can write back (it overflows the stack a
 * few thousand levels down): that is a bad request, not a provider failure.
 */
export function clientJson(value: unknown, param?: string): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw nestedTooDeeply(param);
  }
}

// Deeper than any request needs (a tool's JSON schema nests a few dozen
// levels), and about as deep as LiteLLM's parser (Python's, within its
// recursion limit) reads.
const MAX_BODY_DEPTH = 1000;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Refuses (400) JSON text that nests arrays and objects more than
 * MAX_BODY_DEPTH deep, before it is parsed: V8's JSON.parse takes about a
 * microsecond a level, so a body of the default 32 MiB limit made of "["
 * held the event loop for twenty seconds, and anyone could send one (bodies
 * are read before the key is checked). Strings are skipped whole (a native
 * search for their closing quote): about a millisecond for 30 MB of a
 * base64 image (its parse: 300 ms), 50 ms for 18 MB of short messages
 * (400 ms). Text that is not JSON may pass: JSON.parse refuses it.
 */
export function checkJsonDepth(bytes: Buffer): void {
  // Most requests are too short to nest that deep, and are not scanned.
  if (bytes.length <= MAX_BODY_DEPTH) return;
  let depth = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      // The string's closing quote: the next one not escaped by an odd run of backslashes.
      let end = i;
      do {
        end = bytes.indexOf(QUOTE, end + 1);
        if (end === -1) return;
      } while (escaped(bytes, end));
      i = end;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_BODY_DEPTH) throw nestedTooDeeply();
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/** Whether the byte at `at` follows an odd run of backslashes. */
function escaped(bytes: Buffer, at: number): boolean {
  let slashes = 0;
  while (bytes[at - 1 - slashes] === BACKSLASH) slashes++;
  return slashes % 2 === 1;
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
