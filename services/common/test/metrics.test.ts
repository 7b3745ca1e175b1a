import { expect, test } from "vitest";
import { metrics, metricsRegistry } from "../src/index.js";

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
  const outcome = { modelGroup: "bucket-model", deployment: "d-1", callType: "acompletion", success: true, errorType: "", promptTokens: 10, completionTokens: 4, spendUsd: 0.5, cacheHit: false };
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
  const hit = { modelGroup: "cached-model", deployment: "d-2", callType: "aembedding", success: true, errorType: "", latencyMs: 1, promptTokens: 7, completionTokens: 0, spendUsd: 0, cacheHit: true };
  metrics.request(hit);
  metrics.request(hit);
  expect(await sample("gateway_requests_total", { model_group: "cached-model", status: "success" })).toBe(2);
  expect(await sample("gateway_cache_hits_total", { model_group: "cached-model", call_type: "aembedding" })).toBe(2);
  expect(await sample("gateway_tokens_total", { model_group: "cached-model" })).toBeUndefined();
  expect(await metricsRegistry.metrics()).not.toMatch(/gateway_request_duration_seconds_count\{model_group="cached-model"/);
});
