import type { ServerResponse } from "node:http";
import { describeError, type ErrorDetails } from "@gateway/common";

/** OpenAI's error body: {"error": {message, type, param, code}}. */
export function errorBody(details: ErrorDetails): string {
  return JSON.stringify({ error: { message: details.message, type: details.type, param: details.param, code: details.code ?? String(details.status) } });
}

/**
 * Writes any failure as a JSON error with its status, in OpenAI's shape or
 * another API's (`format`). Once a response has started, it can only be cut.
 */
export function sendError(
  res: ServerResponse,
  err: unknown,
  headers: Record<string, string> = {},
  format: (details: ErrorDetails) => string = errorBody,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const details = describeError(err);
  const body = format(details);
  res.writeHead(details.status, {
    ...headers,
    ...details.headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
