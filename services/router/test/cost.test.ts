import { deploymentPrice } from "@gateway/common";
import { describe, expect, it } from "vitest";
import type { Deployment } from "../src/config/deployment.js";
import { costFor } from "../src/outcome.js";

const claude = { price: deploymentPrice("claude-sonnet-4-5-20250929") } as Deployment;

describe("cost of a request", () => {
  it("prices cache reads and writes apart from the rest of the prompt", () => {
    const cost = costFor(claude, { promptTokens: 1000, completionTokens: 100, cachedTokens: 600, cacheWriteTokens: 300, cacheWrite1hTokens: 0 });
    // $3 input, $0.30 cache reads, $3.75 cache writes, $15 output per million.
    expect(cost).toBeCloseTo((100 * 3 + 600 * 0.3 + 300 * 3.75 + 100 * 15) / 1e6, 15);
  });

  it("prices writes to the one-hour cache at twice the input price", () => {
    const cost = costFor(claude, { promptTokens: 1000, completionTokens: 100, cachedTokens: 600, cacheWriteTokens: 300, cacheWrite1hTokens: 200 });
    // 100 five-minute writes at $3.75 and 200 one-hour writes at $6 per million.
    expect(cost).toBeCloseTo((100 * 3 + 600 * 0.3 + 100 * 3.75 + 200 * 6 + 100 * 15) / 1e6, 15);
  });

  it("keeps the cache-write surcharge's ratio when a deployment overrides the input price", () => {
    const price = deploymentPrice("claude-3-5-haiku-20241022", { input_cost_per_token: 2e-6 });
    expect(price.cacheWrite).toBeCloseTo(2.5e-6, 15);
    expect(deploymentPrice("my-local-model", { input_cost_per_token: 1e-7 }).cacheWrite).toBeCloseTo(1e-7, 15);
  });
});
