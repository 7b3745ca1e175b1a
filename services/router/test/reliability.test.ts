import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { Cooldowns } from "../src/cooldowns.js";
import { DeploymentStats } from "../src/deployment-stats.js";
import { allowedFails, policyErrorOf, policyRetries } from "../src/failure-policies.js";
import { fallbacksFor } from "../src/fallbacks.js";
import { ProviderError } from "../src/providers/provider.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { backoffMs, classify } from "../src/retry.js";
import { costBased } from "../src/strategies/cost-based.js";
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

  it("cost-based picks the cheapest per token (input plus output), a deployment priced at 0 first, one with no known price last", () => {
    // gpt-4o-mini is listed at 0.15 + 0.6 per million tokens; gpt-4o at 2.5 + 10.
    const model = (id: string, name: string, info = "") =>
      `  - { model_name: m, litellm_params: { model: openai/${name}, api_base: "http://${id}/v1" }, model_info: { id: ${id}${info} } }\n`;
    const g = group(model("unknown", "my-local-llm") + model("dear", "gpt-4o") + model("listed", "gpt-4o-mini") + model("own", "gpt-4o", ", input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000002"));
    const by = (ids: string[]) => g.deployments.filter((d) => ids.includes(d.id));
    expect(costBased.pick(g, g.deployments, stats)?.id).toBe("own");
    expect(costBased.pick(g, by(["unknown", "dear", "listed"]), stats)?.id).toBe("listed");
    expect(costBased.pick(g, by(["unknown", "dear"]), stats)?.id).toBe("dear");
    expect(costBased.pick(g, by(["unknown"]), stats)?.id).toBe("unknown");
    const local = group(model("paid", "gpt-4o-mini") + model("free", "my-local-llm", ", input_cost_per_token: 0, output_cost_per_token: 0"));
    expect(costBased.pick(local, local.deployments, stats)?.id).toBe("free");
    const twins = group(model("x", "gpt-4o-mini") + model("y", "gpt-4o-mini"));
    expect(Object.keys(shares(() => costBased.pick(twins, twins.deployments, stats)?.id, 200)).sort()).toEqual(["x", "y"]);
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

describe("retry and allowed-fails policies", () => {
  const providerFailure = (status: number, type = "api_error", message = "failed") => {
    const error = new ProviderError(message, status, type);
    return { failure: classify(error, false), error };
  };
  const nameOf = ({ failure, error }: ReturnType<typeof providerFailure>) => policyErrorOf(failure, error);

  it("names a provider's failure by LiteLLM's exception class, and none of the gateway's own, the client's leaving or an unreachable provider", () => {
    expect(nameOf(providerFailure(400, "invalid_request_error", "temperature must be at most 2"))).toBe("BadRequestError");
    expect(nameOf(providerFailure(400, "invalid_request_error", "maximum context length is 8192 tokens"))).toBe("BadRequestError");
    expect(nameOf(providerFailure(400, "invalid_request_error", "filtered by our content management policy"))).toBe("ContentPolicyViolationError");
    expect(nameOf(providerFailure(401))).toBe("AuthenticationError");
    expect(nameOf(providerFailure(404))).toBe("NotFoundError");
    expect(nameOf(providerFailure(408, "timeout"))).toBe("TimeoutError");
    expect(nameOf(providerFailure(429, "rate_limit_error"))).toBe("RateLimitError");
    expect(nameOf(providerFailure(500))).toBe("InternalServerError");
    expect(nameOf(providerFailure(502))).toBe("BadGatewayError");
    expect(nameOf(providerFailure(529, "overloaded_error"))).toBe("ServiceUnavailableError");
    expect(nameOf(providerFailure(503, "api_connection_error"))).toBeUndefined();
    expect(nameOf(providerFailure(499, "request_cancelled"))).toBeUndefined();
    const own = new ConnectError("invalid body", Code.InvalidArgument);
    expect(policyErrorOf(classify(own, false), own)).toBeUndefined();
  });

  it("takes a group's own retry policy whole, counts a content policy refusal as a bad request unless named, and leaves unnamed kinds to num_retries", () => {
    const { settings } = ModelGroups.fromConfig(
      parseConfig(`
litellm_settings:
  retry_policy: { BadRequestErrorRetries: 2, RateLimitErrorRetries: 5 }
router_settings:
  model_group_retry_policy: { special: { TimeoutErrorRetries: 1 } }
`),
      SUPPORTED_PROVIDERS,
    );
    expect(policyRetries(settings, "any", "RateLimitError")).toBe(5);
    expect(policyRetries(settings, "any", "ContentPolicyViolationError")).toBe(2);
    expect(policyRetries(settings, "any", "InternalServerError")).toBeUndefined();
    expect(policyRetries(settings, "any", undefined)).toBeUndefined();
    expect(policyRetries(settings, "special", "TimeoutError")).toBe(1);
    expect(policyRetries(settings, "special", "RateLimitError")).toBeUndefined();
  });

  it("takes a deployment's own allowed_fails_policy whole, else the router's, else allowed_fails; disable_cooldowns turns cooldowns off", () => {
    const groups = ModelGroups.fromConfig(
      parseConfig(`model_list:
${entry("a", "").trimEnd().replace("model_info: { id: a }", "model_info: { id: a, allowed_fails_policy: { TimeoutErrorAllowedFails: 7 } }")}
${entry("b", "")}
router_settings: { allowed_fails: 4, allowed_fails_policy: { RateLimitErrorAllowedFails: 0 } }
`),
      SUPPORTED_PROVIDERS,
    );
    const [a, b] = groups.resolve("m")!.deployments.slice().sort((x, y) => x.id.localeCompare(y.id));
    const { settings } = groups;
    expect(allowedFails(settings, a!, "TimeoutError")).toBe(7);
    expect(allowedFails(settings, a!, "RateLimitError")).toBe(4);
    expect(allowedFails(settings, b!, "RateLimitError")).toBe(0);
    expect(allowedFails(settings, b!, "TimeoutError")).toBe(4);
    expect(allowedFails(settings, b!, undefined)).toBe(4);
    expect(settings.cooldownMs).toBe(5000);
    expect(ModelGroups.fromConfig(parseConfig(`router_settings: { cooldown_time: 30, disable_cooldowns: true }`), SUPPORTED_PROVIDERS).settings.cooldownMs).toBe(0);
  });

  it("refuses a policy naming a kind of failure LiteLLM's policies do not have", () => {
    expect(() => parseConfig(`router_settings: { retry_policy: { RateLimitError: 1 } }`)).toThrow(/retry_policy/);
    expect(() => parseConfig(`router_settings: { allowed_fails_policy: { RateLimitErrorRetries: 1 } }`)).toThrow(/allowed_fails_policy/);
    expect(() => parseConfig(`router_settings: { retry_policy: { TimeoutErrorRetries: -1 } }`)).toThrow(/TimeoutErrorRetries/);
  });
});
