import type { IncomingMessage } from "node:http";
import { SESSION_ID_MAX_CHARS } from "@gateway/common";
import { objectOf, text } from "./end-user.js";

/**
 * The session a client groups a request in, first found: LiteLLM's
 * x-litellm-session-id header, Claude Code's x-claude-code-session-id, the
 * body's litellm_session_id (LiteLLM's), its metadata's or
 * litellm_metadata's; empty when it names none. Cut to SESSION_ID_MAX_CHARS.
 */
export function sessionOf(req: IncomingMessage, body: Record<string, unknown>): string {
  const named =
    text(req.headers["x-litellm-session-id"]) ||
    text(req.headers["x-claude-code-session-id"]) ||
    text(body["litellm_session_id"]) ||
    (body["metadata"] === undefined ? "" : text(objectOf(body["metadata"])?.["litellm_session_id"])) ||
    (body["litellm_metadata"] === undefined ? "" : text(objectOf(body["litellm_metadata"])?.["litellm_session_id"]));
  return named.length > SESSION_ID_MAX_CHARS ? named.slice(0, SESSION_ID_MAX_CHARS) : named;
}
