import type { ServerResponse } from "node:http";
import { isRecord, sendJson, type IncomingCall, type Json } from "./reply.js";

// OpenAI's error answers, shared by its routes (openai.ts) and by the Files
// and Batch APIs (batches.ts), whose batch requests carry the same errors in
// their output lines instead of on the wire.

/** Why a route refuses a request body: the fields of OpenAI's 400 error. */
export class Refusal {
  constructor(
    readonly message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {}
}

function errorType(status: number): string {
  if (status === 429) return "rate_limit_error";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export function errorBody(status: number, message: string, code: string | null = null, param: string | null = null): Json {
  return { error: { message, type: errorType(status), param, code } };
}

export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null = null,
  headers: Record<string, string> = {},
  param: string | null = null,
): void {
  sendJson(res, status, errorBody(status, message, code, param), headers);
}

export function sendRefusal(res: ServerResponse, { message, code, param }: Refusal): void {
  sendError(res, 400, message, code, {}, param);
}

/** The call's JSON object body, or why it is not one. */
export function jsonBody(call: IncomingCall): Json | Refusal {
  if (call.invalidJson) return new Refusal("We could not parse the JSON body of your request.");
  return isRecord(call.body) ? call.body : new Refusal("The request body must be a JSON object.");
}
