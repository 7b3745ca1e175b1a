import { describe, expect, it } from "vitest";
import { withoutUsage } from "../src/chat-completion.js";
import type { Json } from "../src/providers/provider.js";

/** A chunk as an OpenAI-speaking provider sends it: its text, and the object parsed from it. */
const sent = (data: string) => ({ json: JSON.parse(data) as Json, data });

describe("a stream chunk's usage, for a client that did not ask for it", () => {
  it("is cut out of the provider's text wherever the key stands", () => {
    const texts = [
      '{"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}',
      '{"usage":null,"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}]}',
      '{"id":"c1", "usage" : null , "choices":[{"index":0,"delta":{"content":"hi"}}]}',
      '{ "usage": null }',
    ];
    for (const text of texts) {
      const chunk = withoutUsage(sent(text));
      expect(chunk.data).toBeDefined();
      const parsed = JSON.parse(chunk.data!) as Json;
      expect(parsed).not.toHaveProperty("usage");
      const { usage: _dropped, ...rest } = JSON.parse(text) as Json;
      expect(parsed).toEqual(rest);
    }
  });

  it("is dropped from the object when the text names usage elsewhere or the usage is not null", () => {
    for (const text of [
      '{"id":"c1","choices":[{"index":0,"delta":{"content":"usage"}}],"usage":null}',
      '{"id":"c1","choices":[{"index":0,"delta":{"content":"hi"},"usage":null}],"usage":null}',
      '{"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}',
    ]) {
      const chunk = withoutUsage(sent(text));
      expect(chunk.data).toBeUndefined();
      const written = JSON.parse(JSON.stringify(chunk.json)) as Json;
      expect(written).not.toHaveProperty("usage");
      expect(written["choices"]).toEqual((JSON.parse(text) as Json)["choices"]);
    }
  });

  it("is dropped from the object of a chunk translated from another format", () => {
    const chunk = withoutUsage({ json: { id: "c1", choices: [], usage: null } });
    expect(chunk.data).toBeUndefined();
    expect(JSON.parse(JSON.stringify(chunk.json))).toEqual({ id: "c1", choices: [] });
  });
});
