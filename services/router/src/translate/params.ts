import { Code, type ConnectError } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { Json } from "../providers/provider.js";

/** A 400 for what a deployment cannot take, saying how to get past it: LiteLLM's unsupported_params. */
export function unsupported(what: string, param: string): ConnectError {
  return gatewayError(`${what}; remove it, or set drop_params: true (in litellm_settings or on the deployment) to drop it`, Code.InvalidArgument, {
    type: "invalid_request_error",
    param,
    code: "unsupported_params",
  });
}

export function unsupportedParam(name: string, provider: string): ConnectError {
  return unsupported(`${provider} does not support the parameter "${name}"`, name);
}

/**
 * Whether a parameter's value asks for nothing: clients often send defaults
 * explicitly. parallel_tool_calls is on by default in OpenAI's API, and the
 * providers that lack the switch call tools in parallel anyway; a
 * response_format of type "text" is what every model answers without one.
 */
function isDefault(name: string, value: unknown): boolean {
  return (
    value === null ||
    (name === "n" && value === 1) ||
    (name === "parallel_tool_calls" && value === true) ||
    (name === "response_format" && typeof value === "object" && !Array.isArray(value) && (value as Json)["type"] === "text")
  );
}

/**
 * Keeps the parameters a provider takes. Any other is dropped when
 * drop_params is on, and refused with a 400 naming it when not.
 */
export function fitParams(body: Json, supported: ReadonlySet<string> | undefined, dropParams: boolean, provider: string): Json {
  if (!supported) return body;
  let fitted: Json | undefined;
  for (const [name, value] of Object.entries(body)) {
    if (supported.has(name)) continue;
    if (!dropParams && !isDefault(name, value)) throw unsupportedParam(name, provider);
    fitted ??= { ...body };
    delete fitted[name];
  }
  return fitted ?? body;
}
