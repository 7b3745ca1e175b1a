import type { IncomingMessage } from "node:http";
import { END_USER_MAX_CHARS } from "@gateway/common";

/** A client's string, trimmed; anything else: "". */
export const text = (v: unknown): string => (typeof v === "string" ? v.trim() : "");

/** A JSON object, or one sent as a JSON string (LiteLLM accepts metadata either way). */
export function objectOf(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === "string" && v.startsWith("{")) {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * The end user (LiteLLM's customer) a request is made for, as LiteLLM reads
 * it, first found: the x-litellm-customer-id or x-litellm-end-user-id
 * header, the body's "user", its litellm_metadata.user, its
 * metadata.user_id; empty when it names none. Cut to END_USER_MAX_CHARS.
 */
export function endUserOf(req: IncomingMessage, body: Record<string, unknown>): string {
  const named =
    text(req.headers["x-litellm-customer-id"]) ||
    text(req.headers["x-litellm-end-user-id"]) ||
    text(body["user"]) ||
    (body["litellm_metadata"] === undefined ? "" : text(objectOf(body["litellm_metadata"])?.["user"])) ||
    (body["metadata"] === undefined ? "" : text(objectOf(body["metadata"])?.["user_id"]));
  return named.length > END_USER_MAX_CHARS ? named.slice(0, END_USER_MAX_CHARS) : named;
}
