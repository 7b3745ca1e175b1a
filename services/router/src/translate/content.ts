import { Code, type ConnectError } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { Json } from "../providers/provider.js";

export function isJson(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The objects of an array; anything else is no objects. */
export function jsonArray(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isJson) : [];
}

/**
 * A client's value as an error message quotes it: a string as it is,
 * anything else as JSON. String() throws on an object whose toString is not
 * a function, which a request's JSON can make ({"toString": 1}).
 */
export function shown(value: unknown): string {
  return typeof value === "string" ? value : String(JSON.stringify(value));
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The text of message content: a string, or its text parts joined. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return jsonArray(content)
    .map((part) => (part["type"] === "text" ? (str(part["text"]) ?? "") : ""))
    .join("");
}

/** A `data:<media type>;base64,<data>` URL's parts. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return match ? { mediaType: match[1] as string, data: match[2] as string } : undefined;
}

/**
 * OpenAI's tool-call arguments (JSON text) as the object other formats carry;
 * undefined when the text is not a JSON object.
 */
export function parseArguments(text: unknown): Json | undefined {
  if (typeof text !== "string" || text.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(text);
    return isJson(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function badRequest(message: string, param?: string): ConnectError {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", ...(param !== undefined && { param }) });
}
