import { describe, expect, it } from "vitest";
import { parseDuration } from "../src/duration.js";

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["30m", 1_800_000],
    ["2h", 7_200_000],
    ["30d", 2_592_000_000],
  ])("reads %s", (text, ms) => expect(parseDuration(text, "duration")).toBe(ms));

  it.each(["", "30", "30w", "-1d", "0d", "1.5h"])("refuses %j with a 400 naming the field", (text) => {
    expect(() => parseDuration(text, "budget_duration")).toThrow(/budget_duration/);
  });
});
