import { expect, test } from "vitest";
import { metrics, metricsRegistry, type LiteLLMRequest, type RequestOutcome } from "../src/index.js";

const OUTCOME: RequestOutcome = {
  modelGroup: "",
  deployment: "",
  callType: "acompletion",
  success: true,
  errorType: "",
  latencyMs: 1,
  promptTokens: 0,
  completionTokens: 0,
  spendUsd: 0,
  cacheHit: false,
};

const outcomeOf = (fields: Partial<RequestOutcome>): RequestOutcome => ({ ...OUTCOME, ...fields });

/** A finished call in LiteLLM's metrics, with every label set. */
const liteLLMRequestOf = (fields: Partial<LiteLLMRequest>): LiteLLMRequest => ({
  keyHash: "",
  keyAlias: "",
  teamId: "",
  teamAlias: "",
  userId: "",
  endUser: "",
  modelGroup: "",
  deployment: "",
  providerModel: "gpt-4o-mini",
  provider: "openai",
  apiBase: "http://up",
  success: true,
  httpStatus: 200,
  errorType: "",
  latencyMs: 30,
  requestedModel: "",
  fallbacks: undefined,
  apiMs: 20,
  firstTokenMs: 5,
  remainingRequests: 9,
  remainingTokens: 99,
  promptTokens: 4,
  completionTokens: 2,
  spendUsd: 0.01,
  ...fields,
});

async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await metricsRegistry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

test("counts rate-limit rejections by the limit that refused", async () => {
  metrics.rateLimitRejection("rpm");
  metrics.rateLimitRejection("rpm");
  metrics.rateLimitRejection("parallel");
  expect(await sample("gateway_rate_limit_rejections_total", { limit: "rpm" })).toBe(2);
  expect(await sample("gateway_rate_limit_rejections_total", { limit: "parallel" })).toBe(1);
});

test("reads consumer lag at scrape time, and forgets a consumer that stopped", async () => {
  const stop = metrics.watchConsumer("ledger", async () => ({ pending: 7, ackPending: 2 }));
  metrics.watchConsumer("broken", async () => {
    throw new Error("NATS is restarting");
  });
  expect(await sample("gateway_jetstream_consumer_pending", { durable: "ledger" })).toBe(7);
  expect(await sample("gateway_jetstream_consumer_ack_pending", { durable: "ledger" })).toBe(2);
  expect(await sample("gateway_jetstream_consumer_pending", { durable: "broken" })).toBeUndefined();
  stop();
  expect(await sample("gateway_jetstream_consumer_pending", { durable: "ledger" })).toBeUndefined();
});

test("tracks requests in flight per route until they are answered", async () => {
  const first = metrics.httpRequest("/v1/embeddings");
  const second = metrics.httpRequest("/v1/embeddings");
  expect(await sample("gateway_http_requests_in_flight", { route: "/v1/embeddings" })).toBe(2);
  first(200);
  second(429, "rate_limit_error");
  expect(await sample("gateway_http_requests_in_flight", { route: "/v1/embeddings" })).toBe(0);
  expect(await sample("gateway_http_errors_total", { route: "/v1/embeddings", error_type: "rate_limit_error" })).toBe(1);
  expect(await sample("gateway_http_requests_total", { route: "/v1/embeddings", code: "429" })).toBe(1);
});

test("counts requests, tokens and spend, and files latencies in cumulative buckets", async () => {
  const outcome = outcomeOf({ modelGroup: "bucket-model", deployment: "d-1", promptTokens: 10, completionTokens: 4, spendUsd: 0.5 });
  for (const latencyMs of [20, 40, 40, 2000]) metrics.request({ ...outcome, latencyMs });
  metrics.request({ ...outcome, success: false, errorType: "timeout", latencyMs: 5, promptTokens: 0, completionTokens: 0, spendUsd: 0 });
  const series = { model_group: "bucket-model", deployment: "d-1", call_type: "acompletion" };
  expect(await sample("gateway_requests_total", { ...series, status: "success" })).toBe(4);
  expect(await sample("gateway_requests_total", { ...series, status: "failure", error_type: "timeout" })).toBe(1);
  expect(await sample("gateway_tokens_total", { model_group: "bucket-model", direction: "prompt" })).toBe(40);
  expect(await sample("gateway_spend_usd_total", { model_group: "bucket-model" })).toBe(2);
  const text = await metricsRegistry.metrics();
  const bucket = (le: string) => new RegExp(`gateway_request_duration_seconds_bucket\\{model_group="bucket-model",deployment="d-1",call_type="acompletion",le="${le.replace("+", "\\+")}"\\} (\\d+)`).exec(text)?.[1];
  expect([bucket("0.01"), bucket("0.025"), bucket("0.05"), bucket("1"), bucket("2.5"), bucket("+Inf")]).toEqual(["1", "2", "4", "4", "5", "5"]);
  expect(text).toMatch(/gateway_request_duration_seconds_count\{model_group="bucket-model",deployment="d-1",call_type="acompletion"\} 5/);
  expect(text).toMatch(/# TYPE gateway_request_duration_seconds histogram/);
});

test("counts an answer from the response cache as a request and a hit, with none of a deployment's time, tokens or spend", async () => {
  const hit = outcomeOf({ modelGroup: "cached-model", deployment: "d-2", callType: "aembedding", promptTokens: 7, cacheHit: true });
  metrics.request(hit);
  metrics.request(hit);
  expect(await sample("gateway_requests_total", { model_group: "cached-model", status: "success" })).toBe(2);
  expect(await sample("gateway_cache_hits_total", { model_group: "cached-model", call_type: "aembedding" })).toBe(2);
  expect(await sample("gateway_tokens_total", { model_group: "cached-model" })).toBeUndefined();
  expect(await metricsRegistry.metrics()).not.toMatch(/gateway_request_duration_seconds_count\{model_group="cached-model"/);
});

test("serves LiteLLM's metrics by its names and labels once asked, end users left out unless asked", async () => {
  const used = liteLLMRequestOf({
    keyHash: "hash-1",
    keyAlias: "cli",
    teamId: "t1",
    teamAlias: "platform",
    userId: "u1",
    endUser: "customer-9",
    modelGroup: "lite-model",
    deployment: "d-9",
    latencyMs: 1,
    requestedModel: "lite-model",
    apiMs: 0,
    firstTokenMs: 0,
    remainingRequests: undefined,
    remainingTokens: undefined,
    promptTokens: 12,
    completionTokens: 3,
    spendUsd: 0.25,
  });
  expect(metrics.servesLiteLLM).toBe(false);
  metrics.liteLLMRequest(used);
  expect(await sample("litellm_spend_metric_total", {})).toBeUndefined();
  metrics.serveLiteLLM(false);
  expect(metrics.servesLiteLLM).toBe(true);
  metrics.liteLLMRequest(used);
  metrics.liteLLMRequest(used);
  metrics.liteLLMRequest({ ...used, success: false, httpStatus: 429, errorType: "rate_limit_error", promptTokens: 0, completionTokens: 0, spendUsd: 0 });
  const who = { hashed_api_key: "hash-1", api_key_alias: "cli", team: "t1", team_alias: "platform", user: "u1", end_user: "" };
  expect(await sample("litellm_spend_metric_total", { ...who, model: "gpt-4o-mini" })).toBe(0.5);
  expect(await sample("litellm_requests_metric_total", who)).toBe(2);
  expect(await sample("litellm_input_tokens_metric_total", { ...who, requested_model: "lite-model", model: "gpt-4o-mini" })).toBe(24);
  expect(await sample("litellm_total_tokens_metric_total", { ...who, requested_model: "lite-model" })).toBe(30);
  expect(await sample("litellm_proxy_total_requests_metric_total", { ...who, requested_model: "lite-model", status_code: "200" })).toBe(2);
  expect(await sample("litellm_proxy_failed_requests_metric_total", { ...who, exception_status: "429", exception_class: "RateLimitError" })).toBe(1);
  const deployment = { requested_model: "lite-model", litellm_model_name: "gpt-4o-mini", model_id: "d-9", api_base: "http://up", api_provider: "openai", team_alias: "platform" };
  expect(await sample("litellm_deployment_total_requests_total", deployment)).toBe(3);
  expect(await sample("litellm_deployment_success_responses_total", deployment)).toBe(2);
  expect(await sample("litellm_deployment_failure_responses_total", { ...deployment, exception_class: "RateLimitError" })).toBe(1);
  expect(await metricsRegistry.metrics()).toMatch(/litellm_request_total_latency_metric_count\{[^}]*requested_model="lite-model"[^}]*\} 2/);
  expect(await metricsRegistry.metrics()).not.toContain("customer-9");
});

test("times LiteLLM's provider calls: their latency, time to first token, the gateway's overhead, per output token, and the provider's rate limits left", async () => {
  metrics.serveLiteLLM(false);
  const call = liteLLMRequestOf({
    keyHash: "hash-2",
    keyAlias: "agent",
    teamId: "t2",
    teamAlias: "research",
    userId: "u2",
    modelGroup: "timed-model",
    deployment: "d-7",
    providerModel: "claude-x",
    provider: "anthropic",
    apiBase: "http://anthropic.up",
    latencyMs: 250,
    requestedModel: "timed-model",
    apiMs: 200,
    firstTokenMs: 40,
    remainingRequests: 99,
    remainingTokens: 12_000,
    promptTokens: 10,
    completionTokens: 50,
  });
  metrics.liteLLMRequest(call);
  // A whole answer later: no first token, and the provider's limits have moved on.
  metrics.liteLLMRequest({ ...call, latencyMs: 1_100, apiMs: 1_000, firstTokenMs: 0, remainingRequests: 98, remainingTokens: undefined });
  // A cached answer called no provider; a refused request none either.
  metrics.liteLLMRequest({ ...call, deployment: "", apiMs: 0, firstTokenMs: 0 });
  metrics.liteLLMRequest({ ...call, success: false, httpStatus: 429, errorType: "rate_limit_error", apiMs: 0, firstTokenMs: 0 });
  const text = await metricsRegistry.metrics();
  const apiCall = { model: "claude-x", hashed_api_key: "hash-2", api_key_alias: "agent", team: "t2", team_alias: "research", requested_model: "timed-model", user: "u2", model_id: "d-7" };
  const histogram = async (name: string, part: string, labels: Record<string, string>) => {
    const metric = await metricsRegistry.getSingleMetric(name)?.get();
    const values = metric?.values as { metricName?: string; labels: Record<string, string>; value: number }[] | undefined;
    return values?.find((v) => v.metricName === `${name}_${part}` && Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
  };
  expect(await histogram("litellm_llm_api_latency_metric", "count", apiCall)).toBe(2);
  expect(await histogram("litellm_llm_api_latency_metric", "sum", apiCall)).toBeCloseTo(1.2, 9);
  expect(await histogram("litellm_llm_api_time_to_first_token_metric", "count", apiCall)).toBe(1);
  expect(await histogram("litellm_llm_api_time_to_first_token_metric", "sum", apiCall)).toBeCloseTo(0.04, 9);
  const deploymentKey = { model_group: "timed-model", api_provider: "anthropic", api_base: "http://anthropic.up", litellm_model_name: "claude-x", hashed_api_key: "hash-2", api_key_alias: "agent", model_id: "d-7" };
  expect(await histogram("litellm_overhead_latency_metric", "count", deploymentKey)).toBe(2);
  expect(await histogram("litellm_overhead_latency_metric", "sum", deploymentKey)).toBeCloseTo(0.15, 9);
  const perToken = { litellm_model_name: "claude-x", model_id: "d-7", api_base: "http://anthropic.up", api_provider: "anthropic", team: "t2", team_alias: "research" };
  expect(await histogram("litellm_deployment_latency_per_output_token", "sum", perToken)).toBeCloseTo(0.2 / 50 + 1 / 50, 9);
  expect(await sample("litellm_remaining_requests_metric", deploymentKey)).toBe(98);
  expect(await sample("litellm_remaining_tokens_metric", deploymentKey)).toBe(12_000);
  expect(text).not.toMatch(/litellm_llm_api_latency_metric_count\{[^}]*model_id=""/);
});

test("counts LiteLLM's fallbacks by the group asked for, the fallback, and why the first failed", async () => {
  metrics.serveLiteLLM(false);
  const answered = liteLLMRequestOf({
    keyHash: "hash-3",
    keyAlias: "batch",
    teamId: "t3",
    teamAlias: "ops",
    modelGroup: "backup-model",
    deployment: "d-b",
    apiBase: "http://backup.up",
    requestedModel: "main-model",
    fallbacks: { cause: { status: 429, type: "rate_limit_error" }, failed: ["second-model"] },
    apiMs: 10,
    firstTokenMs: 0,
    remainingRequests: undefined,
    remainingTokens: undefined,
    promptTokens: 5,
    completionTokens: 5,
    spendUsd: 0.001,
  });
  metrics.liteLLMRequest(answered);
  // Every fallback failed: the last one's failure is what the client saw.
  metrics.liteLLMRequest({ ...answered, success: false, httpStatus: 502, errorType: "api_error", deployment: "", fallbacks: { cause: { status: 500, type: "api_error" }, failed: ["second-model", "backup-model"] } });
  // No fallback: nothing counted.
  metrics.liteLLMRequest({ ...answered, modelGroup: "main-model", fallbacks: undefined });
  const key = { requested_model: "main-model", hashed_api_key: "hash-3", api_key_alias: "batch", team: "t3", team_alias: "ops" };
  expect(await sample("litellm_deployment_successful_fallbacks_total", { ...key, fallback_model: "backup-model", exception_status: "429", exception_class: "RateLimitError" })).toBe(1);
  expect(await sample("litellm_deployment_successful_fallbacks_total", { ...key, fallback_model: "main-model" })).toBeUndefined();
  expect(await sample("litellm_deployment_failed_fallbacks_total", { ...key, fallback_model: "second-model", exception_status: "429" })).toBe(1);
  expect(await sample("litellm_deployment_failed_fallbacks_total", { ...key, fallback_model: "second-model", exception_status: "500", exception_class: "APIError" })).toBe(1);
  expect(await sample("litellm_deployment_failed_fallbacks_total", { ...key, fallback_model: "backup-model", exception_status: "500" })).toBe(1);
});

test("drops every LiteLLM series of the keys a deletion push names, and keeps the other keys'", async () => {
  metrics.serveLiteLLM(false);
  const call = (keyHash: string): LiteLLMRequest =>
    liteLLMRequestOf({
      keyHash,
      teamId: "t-del",
      modelGroup: "del-model",
      deployment: "d-del",
      requestedModel: "del-model",
      fallbacks: { cause: { status: 500, type: "api_error" }, failed: ["other-model"] },
    });
  for (const hash of ["hash-deleted-1", "hash-deleted-2", "hash-kept"]) {
    metrics.liteLLMRequest(call(hash));
    metrics.liteLLMRequest({ ...call(hash), success: false, httpStatus: 429, errorType: "rate_limit_error" });
  }
  const text = await metricsRegistry.metrics();
  expect(text).toContain('hashed_api_key="hash-deleted-1"');
  const seriesOfKept = text.split("\n").filter((line) => line.includes('hashed_api_key="hash-kept"')).length;
  metrics.forgetDeletedKeys(Buffer.from(JSON.stringify(["hash-deleted-1", "hash-deleted-2"])));
  // A push that is not a list of hashes drops nothing.
  metrics.forgetDeletedKeys(Buffer.from("not json"));
  metrics.forgetDeletedKeys(Buffer.from(JSON.stringify({ keys: ["hash-kept"] })));
  const after = await metricsRegistry.metrics();
  expect(after).not.toContain("hash-deleted-");
  expect(after.split("\n").filter((line) => line.includes('hashed_api_key="hash-kept"')).length).toBe(seriesOfKept);
  expect(seriesOfKept).toBeGreaterThan(15);
});

test("drops the series of deployments no longer in the model list, the gateway's own and LiteLLM's, and keeps those of no deployment", async () => {
  metrics.serveLiteLLM(false);
  for (const deployment of ["dep-removed", "dep-kept", ""]) {
    metrics.request(outcomeOf({ modelGroup: "retained-model", deployment, promptTokens: 3, completionTokens: 2, spendUsd: 0.5 }));
    metrics.liteLLMRequest(liteLLMRequestOf({ keyHash: "hash-retain", modelGroup: "retained-model", deployment, requestedModel: "retained-model", promptTokens: 3, spendUsd: 0.5 }));
  }
  metrics.deploymentCooledDown({ providerModel: "gpt-4o-mini", id: "dep-removed", apiBase: "http://up", provider: "openai" }, 500);
  const before = await metricsRegistry.metrics();
  expect(before).toContain('deployment="dep-removed"');
  expect(before).toContain('model_id="dep-removed"');
  const lines = (text: string, part: string) => text.split("\n").filter((line) => line.includes(part)).length;
  metrics.retainDeployments(new Set(["dep-kept"]));
  const after = await metricsRegistry.metrics();
  expect(after).not.toContain("dep-removed");
  expect(lines(after, "dep-kept")).toBe(lines(before, "dep-kept"));
  expect(lines(after, 'model_group="retained-model",deployment=""')).toBe(lines(before, 'model_group="retained-model",deployment=""'));
  expect(lines(after, 'requested_model="retained-model"')).toBeGreaterThan(0);
});
