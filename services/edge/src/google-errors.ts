import type { ErrorDetails } from "@gateway/common";

// Google's canonical status names by HTTP status, as the Gemini API's error
// bodies carry them; its SDKs read the HTTP status and the message.
const STATUS_BY_HTTP: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  413: "INVALID_ARGUMENT",
  415: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  501: "UNIMPLEMENTED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** Google's error body: {"error": {code, message, status}}. */
export function googleErrorBody(details: ErrorDetails): string {
  const status = STATUS_BY_HTTP[details.status] ?? (details.status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT");
  return JSON.stringify({ error: { code: details.status, message: details.message, status } });
}
