import { expect, it } from "vitest";
import { timeoutMs } from "../src/call-overrides.js";

it("takes timeouts in seconds as milliseconds a timer can wait: at most about 24.8 days", () => {
  expect(timeoutMs(1.5)).toBe(1500);
  expect(timeoutMs(2_147_483)).toBe(2_147_483_000);
  expect(timeoutMs(1e10)).toBe(2 ** 31 - 1);
});
