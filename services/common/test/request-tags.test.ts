import { describe, expect, it } from "vitest";
import { REQUEST_TAG_MAX_CHARS, REQUEST_TAGS_MAX, requestTags } from "../src/request-tags.js";

describe("request tags", () => {
  it("joins lists in order, each tag once, leaving out empty ones", () => {
    expect(requestTags(["app:cli", "", "nightly"], undefined, ["nightly", "env:prod"])).toEqual(["app:cli", "nightly", "env:prod"]);
    expect(requestTags([], undefined)).toEqual([]);
  });

  it("caps how many tags and how long each, so the ledger holds what it groups by", () => {
    const many = Array.from({ length: REQUEST_TAGS_MAX + 10 }, (_, i) => `t${i}`);
    expect(requestTags(many, ["deployment-tag"])).toEqual(many.slice(0, REQUEST_TAGS_MAX));
    const long = "x".repeat(REQUEST_TAG_MAX_CHARS + 5);
    // Cut, then compared: a long tag and its first 256 characters are one tag.
    expect(requestTags([long, long.slice(0, REQUEST_TAG_MAX_CHARS)])).toEqual([long.slice(0, REQUEST_TAG_MAX_CHARS)]);
  });

  it("never hands out a list a caller could change for every request", () => {
    expect(() => requestTags().push("x")).toThrow();
  });
});
