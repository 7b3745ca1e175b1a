import type { ServerResponse } from "node:http";
import { describeError, type ErrorDetails } from "@gateway/common";
import { endAfterRequest } from "./http.js";

/** OpenAI's error body: {"error": {message, type, param, code}}. */
export function errorBody(details: Omit<ErrorDetails, "headers" | "unexpected">): string {
  return JSON.stringify({ error: { message: details.message, type: details.type, param: details.param, code: details.code ?? String(details.status) } });
}

/**
 * Writes any failure as a JSON error with its status, in OpenAI's shape or
 * another API's (`format`, with `restate` for where that API's statuses
 * differ). Once a response has started, it can only be cut.
 * A failure found before the request arrived in full (a body over the limit)
 * closes the connection: the rest of the request is not worth reading.
 */
export function sendError(
  res: ServerResponse,
  err: unknown,
  headers: Record<string, string> = {},
  format: (details: ErrorDetails) => string = errorBody,
  restate: (details: ErrorDetails) => ErrorDetails = (details) => details,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const details = restate(describeError(err));
  const body = format(details);
  const early = !res.req.complete;
  res.writeHead(details.status, {
    ...headers,
    ...details.headers,
    ...(early && { connection: "close" }),
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  if (early) endAfterRequest(res, body);
  else res.end(body);
}
