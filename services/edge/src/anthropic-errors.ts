import type { ErrorDetails } from "@gateway/common";

// Anthropic's error types by HTTP status, from its API reference. The status
// decides, whatever type the error came with: an OpenAI-style type
// (invalid_request_error for a 413 or a 403) would say the wrong thing.
const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
};

function typeOf(details: Pick<ErrorDetails, "status">): string {
  return TYPE_BY_STATUS[details.status] ?? (details.status >= 500 ? "api_error" : "invalid_request_error");
}

/** Anthropic's error body: {"type": "error", "error": {type, message}}. */
export function anthropicErrorBody(details: Pick<ErrorDetails, "status" | "message">): string {
  return JSON.stringify({ type: "error", error: { type: typeOf(details), message: details.message } });
}

// A key (or its team, or organization) that may not use the model asked for: LiteLLM's 401.
const MODEL_ACCESS_DENIED = new Set(["key_model_access_denied", "team_model_access_denied", "organization_model_access_denied"]);

/**
 * A failure as Anthropic's API states it, where its status differs from
 * OpenAI's (and LiteLLM's): a model that does not exist is a 404
 * not_found_error there, which Anthropic's SDKs raise as NotFoundError, and
 * a key that may not use a model is a 403 permission_error
 * (PermissionDeniedError), not a bad key (a 401 tells Claude Code to log in
 * again).
 */
export function anthropicDetails(details: ErrorDetails): ErrorDetails {
  if (details.code === "model_not_found" && details.param === "model") return { ...details, status: 404 };
  if (MODEL_ACCESS_DENIED.has(details.type)) return { ...details, status: 403 };
  return details;
}
