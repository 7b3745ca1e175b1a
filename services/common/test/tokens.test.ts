import { describe, expect, it } from "vitest";
import { estimateTokens, messagesText } from "../src/tokens.js";

describe("local token estimates", () => {
  it("read the text of chat messages, in strings and text parts", () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: [{ type: "text", text: "Hi " }, { type: "image_url", image_url: { url: "data:," } }, { type: "text", text: "there" }] },
    ];
    expect(messagesText(messages)).toBe("Be brief.Hi there");
    expect(estimateTokens(messagesText(messages))).toBe(5);
  });

  it("skip what is not a message or a part instead of failing on it (a mock deployment answers whatever it is sent)", () => {
    expect(messagesText([null, 5, { role: "user", content: [null, 7, { text: "ok" }] }])).toBe("ok");
    expect(messagesText("not a list")).toBe("");
  });
});
