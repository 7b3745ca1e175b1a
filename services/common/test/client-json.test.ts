import { describe, expect, it } from "vitest";
import { checkStorable, clientJson, storableText } from "../src/client-json.js";

describe("what the client sent, as the gateway can write and keep it", () => {
  it("writes JSON, and calls nesting deeper than JSON.stringify can write a bad request", () => {
    expect(clientJson({ a: [1, "two"] })).toBe('{"a":[1,"two"]}');
    const deep = JSON.parse(`${"[".repeat(20_000)}${"]".repeat(20_000)}`) as unknown;
    expect(() => clientJson(deep, "messages")).toThrow(/nested too deeply/);
  });

  it("tells text Postgres keeps from NUL and unpaired surrogates", () => {
    expect(storableText("plain, ünïcode and 🚀")).toBe(true);
    for (const text of ["a\u0000b", "\ud800", "x\udc00", "\udc00\ud800"]) expect(storableText(text), JSON.stringify(text)).toBe(false);
  });

  it("checks a body to its depths, naming the top-level field that holds the problem", () => {
    expect(() => checkStorable({ models: ["a"], metadata: { team: { deep: [{ ok: "🚀" }] } } })).not.toThrow();
    expect(() => checkStorable({ metadata: { list: ["fine", "no\u0000"] } })).toThrow(expect.objectContaining({ message: expect.stringMatching(/metadata holds a NUL/) }));
    expect(() => checkStorable({ aliases: { "bad\ud800": "x" } })).toThrow(/aliases holds/);
    expect(() => checkStorable({ "k\u0000": 1 })).toThrow(/a field's name/);
    let nested: unknown = 1;
    for (let i = 0; i < 64; i++) nested = { a: nested };
    expect(() => checkStorable({ metadata: nested })).toThrow(/metadata is nested more than 64 levels deep/);
    expect(() => checkStorable({ metadata: (nested as { a: unknown }).a })).not.toThrow();
  });
});
