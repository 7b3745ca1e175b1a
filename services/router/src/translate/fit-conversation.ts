import type { Json } from "../providers/provider.js";
import { jsonArray } from "./content.js";

// LiteLLM's modify_params for Anthropic's Messages format (Anthropic, Claude
// on Vertex AI, Bedrock's Converse): requests that an OpenAI-format history
// makes valid for OpenAI but these providers refuse are changed to be taken.

/** Offered when a history holds tool calls but the request offers no tools, which these providers refuse. */
export const PLACEHOLDER_TOOL: Json = {
  name: "placeholder_tool",
  description: "Not to be called: offered so that the tool calls earlier in this conversation are accepted.",
  input_schema: { type: "object", properties: {} },
};

/** Stands first when a conversation starts with the assistant, as these providers want the user first. */
const OPENING: Json = { role: "user", content: [{ type: "text", text: "." }] };

function hasToolBlocks(messages: Json[]): boolean {
  return messages.some((m) => jsonArray(m["content"]).some((block) => block["type"] === "tool_use" || block["type"] === "tool_result"));
}

/**
 * An Anthropic Messages request made acceptable where it would be refused:
 * a placeholder tool when the history calls tools but none are offered, and
 * a user turn first when the assistant speaks first. The request itself when
 * it needs neither.
 */
export function fitConversation(request: Json): Json {
  const messages = jsonArray(request["messages"]);
  const offersTools = Array.isArray(request["tools"]) && request["tools"].length > 0;
  const needsTool = !offersTools && hasToolBlocks(messages);
  const needsOpening = messages[0]?.["role"] === "assistant";
  if (!needsTool && !needsOpening) return request;
  const fitted: Json = { ...request };
  if (needsTool) fitted["tools"] = [PLACEHOLDER_TOOL];
  if (needsOpening) fitted["messages"] = [OPENING, ...messages];
  return fitted;
}
