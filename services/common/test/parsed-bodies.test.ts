import { expect, test } from "vitest";
import { parsedBody, rememberParsedBody } from "../src/parsed-bodies.js";

test("finds a parse by the very bytes it came from, and by no copy of them", () => {
  const bytes = Buffer.from('{"model":"fast-model"}');
  const body = { model: "fast-model" };
  rememberParsedBody(bytes, body);
  expect(parsedBody(bytes)).toBe(body);
  // Bytes that crossed a transport are a copy: the receiver parses its own.
  expect(parsedBody(Buffer.from(bytes))).toBeUndefined();
});
