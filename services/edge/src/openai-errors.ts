import type { ServerResponse } from "node:http";
import { describeError, type ErrorDetails } from "@gateway/common";

/** OpenAI's error body: {"error": {message, type, param, code}}. */
export function errorBody(details: ErrorDetails): string {
  return JSON.stringify({ error: { message: details.message, type: details.type, param: details.param, code: details.code ?? String(details.status) } });
}

/** Writes any failure as an OpenAI-style JSON error with its status. */
export function sendError(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const details = describeError(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(details);
  res.writeHead(details.status, {
    ...headers,
    ...details.headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}
