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
