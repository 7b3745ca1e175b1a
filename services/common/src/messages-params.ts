import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";
import { isObject } from "./message-list.js";

type Json = Record<string, unknown>;

// The types Anthropic's Messages API takes for the parameters the
// translation for other providers reads. It reads each only in its right
// type (a list of stop sequences, an object of tool choice) and drops it
// otherwise, so a client's stop_sequences: "END" or tool_choice: "auto" went
// unheeded without a word where Anthropic answers a 400. null is taken as
// unset, as the translation takes it.

const TYPES: [string, (value: unknown) => boolean, string][] = [
  ["stop_sequences", (value) => Array.isArray(value) && value.every((item) => typeof item === "string"), "a list of strings"],
  ["tools", (value) => Array.isArray(value) && value.every(isObject), "a list of objects"],
  ["tool_choice", isObject, "an object"],
  ["metadata", isObject, "an object"],
  ["thinking", isObject, "an object"],
  ["temperature", (value) => typeof value === "number", "a number"],
  ["top_p", (value) => typeof value === "number", "a number"],
  ["top_k", (value) => typeof value === "number", "a number"],
];

/** Throws an InvalidArgument error naming the first of those parameters that is not of its type. */
export function checkMessagesParams(body: Json): void {
  for (const [name, takes, type] of TYPES) {
    const value = body[name];
    if (value !== undefined && value !== null && !takes(value)) throw invalid(`${name}: must be ${type}`, name);
  }
  const userId = isObject(body["metadata"]) ? (body["metadata"] as Json)["user_id"] : undefined;
  if (userId !== undefined && userId !== null && typeof userId !== "string") throw invalid("metadata.user_id: must be a string", "metadata");
  if (isObject(body["thinking"])) checkThinking(body["thinking"] as Json);
  if (Array.isArray(body["tools"])) (body["tools"] as Json[]).forEach(checkTool);
  if (isObject(body["tool_choice"])) checkToolChoice(body["tool_choice"] as Json);
}

/**
 * A tool the client defines (of no type, or "custom") as Anthropic takes
 * it: a name, and its input schema, when given, an object. The translation
 * for other providers passed the name on as it came, for the provider's own
 * 400, and sent a schema of another type as one that takes anything.
 * Anthropic's server tools (web search, …) are left to the provider that
 * runs them.
 */
function checkTool(tool: Json, i: number): void {
  if (tool["type"] !== undefined && tool["type"] !== "custom") return;
  if (typeof tool["name"] !== "string") throw invalid(`tools.${i}.name: must be a string`, "tools");
  const schema = tool["input_schema"];
  if (schema !== undefined && schema !== null && !isObject(schema)) throw invalid(`tools.${i}.input_schema: must be an object`, "tools");
}

const TOOL_CHOICE_TYPES = new Set(["auto", "any", "tool", "none"]);

/**
 * Tool choice as Anthropic takes it: a known type, the tool's name with
 * "tool", disable_parallel_tool_use a boolean. The translation refused
 * another type only when the request had tools, asked the provider for a
 * function with no name, and took "true" as false.
 */
function checkToolChoice(choice: Json): void {
  const type = choice["type"];
  if (typeof type !== "string" || !TOOL_CHOICE_TYPES.has(type)) throw invalid('tool_choice.type: must be "auto", "any", "tool" or "none"', "tool_choice");
  if (type === "tool" && typeof choice["name"] !== "string") throw invalid("tool_choice.name: must be a string", "tool_choice");
  const once = choice["disable_parallel_tool_use"];
  if (once !== undefined && once !== null && typeof once !== "boolean") throw invalid("tool_choice.disable_parallel_tool_use: must be a boolean", "tool_choice");
}

const THINKING_TYPES = new Set(["enabled", "adaptive", "disabled"]);
/** The least budget Anthropic takes for extended thinking. */
const LEAST_BUDGET = 1024;

/**
 * Thinking as Anthropic takes it: a known type, and a budget of at least
 * 1024 whole tokens when enabled. A deployment that thinks by effort
 * (OpenAI's reasoning models, Gemini) got the least effort for any other
 * budget, -5 or "high" alike, and another type was refused as thinking
 * the deployment cannot do.
 */
function checkThinking(thinking: Json): void {
  const type = thinking["type"];
  if (typeof type !== "string" || !THINKING_TYPES.has(type)) throw invalid('thinking.type: must be "enabled", "adaptive" or "disabled"', "thinking");
  const budget = thinking["budget_tokens"];
  if (type === "enabled" && !(typeof budget === "number" && Number.isInteger(budget) && budget >= LEAST_BUDGET)) {
    throw invalid(`thinking.budget_tokens: must be a whole number, ${LEAST_BUDGET} or more`, "thinking");
  }
}

function invalid(message: string, param: string) {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}
