import { describe, expect, it } from "vitest";
import { checkJsonDepth, checkStorable, clientJson, storableText } from "../src/client-json.js";

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

  it("refuses JSON text nested more than 1000 deep before it is parsed, counting no bracket inside a string", () => {
    const nested = (depth: number) => Buffer.from(`{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`);
    expect(() => checkJsonDepth(nested(1000))).not.toThrow();
    expect(() => checkJsonDepth(nested(1001))).toThrow(/request body is nested too deeply/);
    // Brackets in strings, quotes escaped in them, and a string that ends in a backslash are text.
    const text = JSON.stringify({ content: `${"[".repeat(5000)} "quoted [" \\`, quotes: '"['.repeat(2500), more: "{".repeat(5000), last: "\\" });
    expect(() => checkJsonDepth(Buffer.from(`{"list":[${text},${text}]}`))).not.toThrow();
    expect(() => checkJsonDepth(Buffer.from(`[${JSON.stringify("x\\")}, ${"[".repeat(1000)}${"]".repeat(1000)}]`))).toThrow(/nested too deeply/);
    // Not JSON at all: left to JSON.parse to refuse.
    expect(() => checkJsonDepth(Buffer.from('{"open": "never closed'))).not.toThrow();
  });
});
