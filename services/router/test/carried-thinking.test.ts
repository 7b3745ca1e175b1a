import { describe, expect, it } from "vitest";
import type { Json } from "../src/providers/provider.js";
import { addThinking, carriedThinking, thinkingCarried } from "../src/translate/carried-thinking.js";

describe("signed thinking carried in a reasoning item", () => {
  it("gathers streamed thinking into blocks, each closed by its signature, redacted ones apart", () => {
    const blocks: Json[] = [];
    for (const block of [
      { type: "thinking", thinking: "Let me " },
      { type: "thinking", thinking: "think." },
      { type: "thinking", thinking: "", signature: "sig-1" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "thinking", thinking: "More." },
      { type: "thinking", thinking: "", signature: "sig-2" },
    ]) addThinking(blocks, block);
    expect(blocks).toEqual([
      { type: "thinking", thinking: "Let me think.", signature: "sig-1" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "thinking", thinking: "More.", signature: "sig-2" },
    ]);
    expect(thinkingCarried(carriedThinking(blocks))).toEqual(blocks);
  });

  it("carries nothing without a signature, and reads nothing from OpenAI's own encrypted reasoning or a damaged item", () => {
    expect(carriedThinking([{ type: "thinking", thinking: "unsigned" }])).toBeUndefined();
    expect(carriedThinking([])).toBeUndefined();
    expect(thinkingCarried("gAAAAABo-openai-encrypted")).toBeUndefined();
    expect(thinkingCarried("gateway-thinking:not base64 json")).toBeUndefined();
    expect(thinkingCarried(undefined)).toBeUndefined();
  });
});
