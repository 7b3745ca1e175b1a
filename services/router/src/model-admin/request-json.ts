import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";

const decoder = new TextDecoder();

/** A model admin call's 400. */
export function invalid(message: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error" });
}

/** The JSON object a model admin call carries (`what` names it in the error). */
export function parseObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw invalid(`${what} is not valid JSON`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

type Params = Record<string, unknown>;

/** One of a request's objects; {} when it is absent or null. */
export function objectField(changes: Params, name: string): Params {
  const value = changes[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(`${name} must be an object`);
  return value as Params;
}

/** The stored parameters with the given ones over them; a null given leaves the stored value, as LiteLLM's update does. */
export function over(stored: Params, given: Params): Params {
  const result = { ...stored };
  for (const [name, value] of Object.entries(given)) if (value !== null) result[name] = value;
  return result;
}
