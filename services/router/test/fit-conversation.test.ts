import { describe, expect, it } from "vitest";
import { fitConversation, PLACEHOLDER_TOOL } from "../src/translate/fit-conversation.js";

const toolTurns = [
  { role: "user", content: [{ type: "text", text: "weather?" }] },
  { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "get_weather", input: {} }] },
  { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "sunny" }] },
];

describe("modify_params on Anthropic's Messages format", () => {
  it("offers a placeholder tool when the history calls tools and the request offers none", () => {
    expect(fitConversation({ max_tokens: 10, messages: toolTurns })).toEqual({ max_tokens: 10, messages: toolTurns, tools: [PLACEHOLDER_TOOL] });
    const offered = { max_tokens: 10, messages: toolTurns, tools: [{ name: "get_weather", input_schema: { type: "object" } }] };
    expect(fitConversation(offered)).toBe(offered);
  });

  it("puts a user turn first when the assistant speaks first", () => {
    const messages = [
      { role: "assistant", content: [{ type: "text", text: "Hello, how can I help?" }] },
      { role: "user", content: [{ type: "text", text: "hi" }] },
    ];
    expect(fitConversation({ messages })["messages"]).toEqual([{ role: "user", content: [{ type: "text", text: "." }] }, ...messages]);
  });

  it("leaves a request that needs neither as it is", () => {
    const request = { max_tokens: 10, messages: [{ role: "user", content: "hi" }] };
    expect(fitConversation(request)).toBe(request);
  });
});
