import { describe, expect, it } from "vitest";
import { withFields } from "../src/with-fields.js";

describe("withFields", () => {
  it("sets fields over a copy, new ones and existing ones, and leaves the original as it was", () => {
    const body = { model: "fast-model", messages: [{ role: "user", content: "hi" }] };
    const sent = withFields(body, { model: "gpt-4o-mini", stream: false });
    expect(sent).toEqual({ model: "gpt-4o-mini", messages: body.messages, stream: false });
    expect(body).toEqual({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });
    expect(sent).not.toBe(body);
  });
});
