import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

/**
 * JSON text of something the client sent. JSON.parse takes nesting deeper
 * than JSON.stringify's recursion can write back (it overflows the stack a
 * few thousand levels down): that is a bad request, not a provider failure.
 */
export function clientJson(value: unknown, param?: string): string {
  try {
    return JSON.stringify(value);
  } catch {
    throw gatewayError("request body is nested too deeply", Code.InvalidArgument, { type: "invalid_request_error", ...(param !== undefined && { param }) });
  }
}
