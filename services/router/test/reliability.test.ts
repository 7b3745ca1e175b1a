import { parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { Cooldowns } from "../src/cooldowns.js";
import { DeploymentStats } from "../src/deployment-stats.js";
import { fallbacksFor } from "../src/fallbacks.js";
import { ProviderError } from "../src/providers/provider.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { backoffMs, classify } from "../src/retry.js";
import { latencyBased } from "../src/strategies/latency-based.js";
import { leastBusy } from "../src/strategies/least-busy.js";
import { simpleShuffle } from "../src/strategies/simple-shuffle.js";

function group(entries: string) {
  const g = ModelGroups.fromConfig(parseConfig(`model_list:\n${entries}`), SUPPORTED_PROVIDERS).resolve("m");
  if (!g) throw new Error("no group m");
  return g;
}
const entry = (id: string, params = "") => `  - { model_name: m, litellm_params: { model: openai/x, api_base: "http://${id}/v1" ${params} }, model_info: { id: ${id} } }\n`;

function shares(pick: () => string | undefined, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = pick() ?? "none";
    counts[id] = (counts[id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([id, c]) => [id, c / n]));
}

describe("routing strategies", () => {
  const stats = new DeploymentStats();

  it("simple-shuffle follows weight, then rpm, then tpm", () => {
    const byWeight = group(entry("a", ", weight: 1, rpm: 900") + entry("b", ", weight: 3, rpm: 100"));
    const w = shares(() => simpleShuffle.pick(byWeight, byWeight.deployments, stats)?.id, 20_000);
    // Binomial standard deviation at n = 20000 is about 0.003; 0.02 is far outside chance.
    expect(Math.abs(w["a"]! - 0.25)).toBeLessThan(0.02);
    const byRpm = group(entry("a", ", rpm: 900") + entry("b", ", rpm: 100"));
    expect(Math.abs(shares(() => simpleShuffle.pick(byRpm, byRpm.deployments, stats)?.id, 20_000)["a"]! - 0.9)).toBeLessThan(0.02);
    const byTpm = group(entry("a", ", tpm: 1") + entry("b", ", tpm: 1"));
    expect(Math.abs(shares(() => simpleShuffle.pick(byTpm, byTpm.deployments, stats)?.id, 20_000)["a"]! - 0.5)).toBeLessThan(0.02);
  });

  it("least-busy picks the deployment with fewest calls in flight", () => {
    const g = group(entry("a") + entry("b") + entry("c"));
    const busy = new DeploymentStats();
    busy.began("a");
    busy.began("a");
    busy.began("b");
    expect(leastBusy.pick(g, g.deployments, busy)?.id).toBe("c");
    busy.began("c");
    busy.began("c");
    busy.done("a");
    busy.done("a");
    expect(leastBusy.pick(g, g.deployments, busy)?.id).toBe("a");
  });

  it("latency-based picks the fastest lately, tries the unmeasured, and shares within the buffer", () => {
    const g = group(entry("a") + entry("b") + entry("c"));
    const timed = new DeploymentStats();
    timed.recordLatency("a", 100);
    timed.recordLatency("b", 300);
    expect(latencyBased(0).pick(g, g.deployments, timed)?.id).toBe("c");
    timed.recordLatency("c", 500);
    expect(latencyBased(0).pick(g, g.deployments, timed)?.id).toBe("a");
    for (let i = 0; i < 10; i++) timed.recordLatency("a", 1000);
    expect(latencyBased(0).pick(g, g.deployments, timed)?.id).toBe("b");
    timed.recordLatency("c", 100);
    // c now averages 300, as b does: a buffer of 0 shares between exactly those two.
    const picked = shares(() => latencyBased(0).pick(g, g.deployments, timed)?.id, 2000);
    expect(Object.keys(picked).sort()).toEqual(["b", "c"]);
  });

  it("latency-based tries an unmeasured deployment before one that answered in no measurable time", () => {
    const g = group(entry("local") + entry("remote"));
    const timed = new DeploymentStats();
    // A call under way is not a measurement.
    timed.began("remote");
    timed.recordLatency("local", 0);
    for (let i = 0; i < 20; i++) expect(latencyBased(0.5).pick(g, g.deployments, timed)?.id).toBe("remote");
    timed.recordLatency("remote", 0);
    expect(Object.keys(shares(() => latencyBased(0).pick(g, g.deployments, timed)?.id, 200)).sort()).toEqual(["local", "remote"]);
  });
});

describe("cooldowns", () => {
  it("cools a deployment down after more than allowed_fails failures in a minute, and lets it back after cooldown_time", () => {
    let now = 1_000_000;
    const cooldowns = new Cooldowns(() => now);
    expect(cooldowns.failed("a", 2, 5000)).toBe(false);
    expect(cooldowns.failed("a", 2, 5000)).toBe(false);
    expect(cooldowns.coolingDown("a")).toBe(false);
    expect(cooldowns.failed("a", 2, 5000)).toBe(true);
    expect(cooldowns.coolingDown("a")).toBe(true);
    expect(cooldowns.nextAvailableIn(["a"])).toBe(5000);
    now += 5000;
    expect(cooldowns.coolingDown("a")).toBe(false);
  });

  it("counts failures per minute", () => {
    let now = 0;
    const cooldowns = new Cooldowns(() => now);
    cooldowns.failed("a", 1, 5000);
    now += 61_000;
    expect(cooldowns.failed("a", 1, 5000)).toBe(false);
  });
});

describe("retries and fallbacks", () => {
  it("classifies failures: rate limits, timeouts, 5xx and refused connections are retried; context and content refusals have their own fallbacks", () => {
    expect(classify(new ProviderError("slow down", 429, "rate_limit_error", 2000), false)).toEqual({ kind: "retryable", status: 429, retryAfterMs: 2000 });
    expect(classify(new ProviderError("openai is unreachable (ECONNREFUSED)", 503, "api_connection_error"), false).kind).toBe("retryable");
    expect(classify(new ProviderError("openai did not answer in time", 408, "timeout"), false).kind).toBe("retryable");
    expect(classify(new ProviderError("bad key", 401, "authentication_error"), false).kind).toBe("deployment");
    expect(classify(new ProviderError("This model's maximum context length is 8192 tokens", 400, "invalid_request_error"), false).kind).toBe("context_window");
    expect(classify(new ProviderError("prompt is too long: 210000 tokens > 200000 maximum", 400, "invalid_request_error"), false).kind).toBe("context_window");
    expect(classify(new ProviderError("The response was filtered due to our content management policy", 400, "invalid_request_error"), false).kind).toBe(
      "content_policy",
    );
    expect(classify(new ProviderError("temperature must be at most 2", 400, "invalid_request_error"), false).kind).toBe("request");
    expect(classify(new ProviderError("anything", 500, "api_error"), true).kind).toBe("cancelled");
  });

  it("backs off exponentially with jitter, never under the provider's retry-after or router_settings.retry_after", () => {
    for (let i = 0; i < 100; i++) {
      const first = backoffMs(0, undefined, 0);
      expect(first).toBeGreaterThanOrEqual(250);
      expect(first).toBeLessThanOrEqual(500);
      const third = backoffMs(2, undefined, 0);
      expect(third).toBeGreaterThanOrEqual(1000);
      expect(third).toBeLessThanOrEqual(2000);
      expect(backoffMs(10, undefined, 0)).toBeLessThanOrEqual(8000);
    }
    expect(backoffMs(0, 3000, 0)).toBe(3000);
    expect(backoffMs(0, undefined, 4000)).toBe(4000);
    // A provider asking for hours is not retried within a request.
    expect(backoffMs(0, 3_600_000, 0)).toBeUndefined();
  });

  it("picks the fallback list that fits the failure", () => {
    const { settings } = ModelGroups.fromConfig(
      parseConfig(`
router_settings:
  fallbacks: [{ a: [b, c] }]
  context_window_fallbacks: [{ a: [big] }]
  default_fallbacks: [safe]
  max_fallbacks: 1
`),
      SUPPORTED_PROVIDERS,
    );
    const failure = (kind: ReturnType<typeof classify>["kind"]) => ({ kind, status: 500, retryAfterMs: undefined });
    expect(fallbacksFor("a", failure("retryable"), settings, [])).toEqual(["b"]);
    expect(fallbacksFor("a", failure("context_window"), settings, [])).toEqual(["big"]);
    expect(fallbacksFor("a", failure("content_policy"), settings, [])).toEqual([]);
    expect(fallbacksFor("z", failure("deployment"), settings, [])).toEqual(["safe"]);
    expect(fallbacksFor("a", failure("request"), settings, [])).toEqual([]);
  });

  it("takes the request's own fallbacks over the config's, for any failure but the request's", () => {
    const { settings } = ModelGroups.fromConfig(parseConfig(`router_settings: { fallbacks: [{ a: [b] }], max_fallbacks: 2 }`), SUPPORTED_PROVIDERS);
    const failure = (kind: ReturnType<typeof classify>["kind"]) => ({ kind, status: 500, retryAfterMs: undefined });
    expect(fallbacksFor("a", failure("retryable"), settings, ["x", "a", "y", "z"])).toEqual(["x", "y"]);
    expect(fallbacksFor("a", failure("context_window"), settings, ["x"])).toEqual(["x"]);
    expect(fallbacksFor("a", failure("content_policy"), settings, ["x"])).toEqual(["x"]);
    expect(fallbacksFor("a", failure("request"), settings, ["x"])).toEqual([]);
    expect(fallbacksFor("a", failure("cancelled"), settings, ["x"])).toEqual([]);
  });
});
