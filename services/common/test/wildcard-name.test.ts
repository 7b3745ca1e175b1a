import { describe, expect, it } from "vitest";
import { WildcardName } from "../src/wildcard-name.js";

describe("WildcardName", () => {
  it("matches names with text where its star is, and no text there is no match", () => {
    const openai = new WildcardName("openai/*");
    expect(openai.match("openai/gpt-4o")).toBe("gpt-4o");
    expect(openai.match("openai/")).toBeUndefined();
    expect(openai.match("anthropic/claude")).toBeUndefined();
    expect(new WildcardName("*").match("anything")).toBe("anything");
  });

  it("fills a one-star pattern with the text its match reads back, and tells patterns of several stars", () => {
    const claude = new WildcardName("claude-*-latest");
    expect(claude.single).toBe(true);
    expect(claude.fill("sonnet")).toBe("claude-sonnet-latest");
    expect(claude.match(claude.fill("sonnet"))).toBe("sonnet");
    expect(new WildcardName("*").single).toBe(true);
    expect(new WildcardName("fo::*:static::*").single).toBe(false);
  });
});
