import type { Json, OpenAIBody } from "../providers/provider.js";
import { badRequest, isJson } from "./content.js";
import { unsupported } from "./params.js";

// JSON output on Claude (anthropic/, bedrock/, Claude on vertex_ai/), which
// has no response_format: as LiteLLM does it, the model is given one tool
// whose input schema is the schema asked for, and made to call it; the
// call's input is the answer. The request side (anthropic-request.ts) offers
// the tool, the answer side (anthropic-response.ts) gives its input back as
// the message's content; Bedrock's Converse goes through both.

/** The name of the tool the answer is asked through (LiteLLM's). */
export const JSON_OUTPUT_TOOL = "json_tool_call";

const DESCRIPTION = "Give the answer as this tool's input.";

/**
 * The JSON schema a response_format asks the answer to follow: a json_schema
 * format's schema, or any object for json_object (and for a json_schema
 * without one). Undefined for text or none.
 */
function schemaOf(format: unknown): { schema: Json; description: string | undefined } | undefined {
  if (format === undefined || format === null) return undefined;
  if (!isJson(format)) throw badRequest("response_format must be an object", "response_format");
  const type = format["type"];
  if (type === "text") return undefined;
  if (type === "json_object") return { schema: { type: "object" }, description: undefined };
  if (type !== "json_schema") throw badRequest("response_format.type must be text, json_object or json_schema", "response_format");
  const spec = isJson(format["json_schema"]) ? format["json_schema"] : {};
  const description = typeof spec["description"] === "string" ? spec["description"] : undefined;
  return { schema: isJson(spec["schema"]) ? spec["schema"] : { type: "object" }, description };
}

/**
 * The Anthropic tool through which a chat request's response_format
 * (json_schema or json_object) is answered, or undefined when it asks for
 * no JSON. A request that offers tools of its own is refused with a 400
 * naming response_format, as the model would have to choose between its
 * tools and the answer; under drop_params its response_format is dropped
 * instead (undefined), as another parameter a deployment cannot take.
 */
export function jsonOutputTool(body: OpenAIBody, dropParams: boolean): Json | undefined {
  const wanted = schemaOf(body["response_format"]);
  if (!wanted) return undefined;
  if (Array.isArray(body["tools"]) && body["tools"].length > 0) {
    if (dropParams) return undefined;
    throw unsupported("Claude models take a JSON response_format (json_schema or json_object) only in requests without tools", "response_format");
  }
  return { name: JSON_OUTPUT_TOOL, description: wanted.description ?? DESCRIPTION, input_schema: wanted.schema };
}

/**
 * The tool_choice that makes the model call the JSON tool. Claude takes no
 * forced tool while it thinks: then the tool is offered with "auto".
 */
export function jsonOutputChoice(thinking: boolean): Json {
  return thinking ? { type: "auto" } : { type: "tool", name: JSON_OUTPUT_TOOL };
}

/** Whether an answer's tool call is the JSON answer of a request that asked for one. */
export function isJsonOutput(jsonOutput: boolean, toolName: unknown): boolean {
  return jsonOutput && toolName === JSON_OUTPUT_TOOL;
}
