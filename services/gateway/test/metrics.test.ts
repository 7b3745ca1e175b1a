import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import parsePrometheusTextFormat, { type MetricFamily } from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

async function scrape(url: string): Promise<MetricFamily[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await res.text());
}

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no metric ${name} in ${families.map((f) => f.name).join(", ")}`);
  return found;
}

/** The value of the sample whose labels include `labels`; 0 when there is none. */
function value(families: MetricFamily[], name: string, labels: Record<string, string>): number {
  const sample = family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}

describe("Prometheus metrics", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let gateway: RunningGateway;
  let router: RunningGateway;
  let baseUrl: string;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    bus = await createTestBus();
    const config = fakeOpenAIConfig(provider.url);
    const plumbing = { databaseUrl: database.url, nats: bus };
    gateway = await startGateway(gatewayOptions("all", config, plumbing));
    router = await startGateway(gatewayOptions("router", config, plumbing));
    baseUrl = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    await router?.close();
    await gateway?.close();
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  it("counts requests, latency, tokens, spend and errors per model group and deployment, without a key", async () => {
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
    const usage = { prompt: 0, completion: 0 };
    for (const content of ["one", "two three"]) {
      const completion = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content }] });
      usage.prompt += completion.usage!.prompt_tokens;
      usage.completion += completion.usage!.completion_tokens;
    }
    await expect(client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] })).rejects.toThrow(/400/);
    const stranger = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "sk-nobody-has-this-key", maxRetries: 0 });
    await expect(stranger.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "x" }] })).rejects.toThrow(/401/);

    const metrics = await scrape(`${baseUrl}/metrics`);
    const routed = { model_group: "fast-model", deployment: "fake-deployment-1" };
    expect(value(metrics, "gateway_requests_total", { ...routed, status: "success", call_type: "acompletion" })).toBe(2);
    // The unknown model reached the router, but its name stays out of the labels.
    expect(value(metrics, "gateway_requests_total", { model_group: "", status: "failure", error_type: "invalid_request_error" })).toBe(1);
    expect(JSON.stringify(metrics)).not.toContain("no-such-model");
    const latency = family(metrics, "gateway_request_duration_seconds");
    expect(latency.type).toBe("HISTOGRAM");
    // One label set (the routed requests); the parser keeps a histogram's buckets but not its labels.
    expect(latency.metrics).toHaveLength(1);
    expect(latency.metrics[0]?.buckets?.["+Inf"]).toBe("2");
    expect(value(metrics, "gateway_tokens_total", { ...routed, direction: "prompt" })).toBe(usage.prompt);
    expect(value(metrics, "gateway_tokens_total", { ...routed, direction: "completion" })).toBe(usage.completion);
    expect(value(metrics, "gateway_spend_usd_total", routed)).toBeGreaterThan(0);
    expect(value(metrics, "gateway_http_errors_total", { route: "/v1/chat/completions", error_type: "authentication_error" })).toBe(1);
    expect(value(metrics, "gateway_http_errors_total", { route: "/v1/chat/completions", error_type: "invalid_request_error" })).toBe(1);
    expect(value(metrics, "gateway_http_requests_total", { route: "/v1/chat/completions", code: "200" })).toBe(2);
    expect(value(metrics, "gateway_http_requests_in_flight", { route: "/v1/chat/completions" })).toBe(0);
    expect(family(metrics, "gateway_rate_limit_rejections_total").type).toBe("COUNTER");
    expect(JSON.stringify(metrics)).not.toContain(MASTER_KEY);
  });

  it("reports the ledger consumer's JetStream lag and what it booked", async () => {
    const metrics = await eventually("the ledger caught up", async () => {
      const scraped = await scrape(`${baseUrl}/metrics`);
      return value(scraped, "gateway_ledger_rows_booked_total", {}) === 3 ? scraped : undefined;
    });
    expect(family(metrics, "gateway_jetstream_consumer_pending").metrics).toEqual([{ value: "0", labels: { durable: "accounting-ledger" } }]);
    expect(value(metrics, "gateway_jetstream_consumer_ack_pending", { durable: "accounting-ledger" })).toBe(0);
  });

  it("labels a wildcard group's requests with the group's configured name, not the names clients send", async () => {
    const wildcard = await startGateway(
      gatewayOptions(
        "all",
        writeConfig(`
model_list:
  - model_name: "fake/*"
    litellm_params: { model: "openai/*", api_base: ${provider.url}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: fake-wildcard }
general_settings:
  master_key: ${MASTER_KEY}
`),
        { databaseUrl: database.url, nats: bus },
      ),
    );
    try {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${wildcard.port}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      for (const name of ["fake/made-up-1", "fake/made-up-2"]) await client.chat.completions.create({ model: name, messages: [{ role: "user", content: "x" }] });
      const metrics = await scrape(`http://127.0.0.1:${wildcard.port}/metrics`);
      expect(value(metrics, "gateway_requests_total", { model_group: "fake/*", deployment: "fake-wildcard", status: "success" })).toBe(2);
      expect(JSON.stringify(metrics)).not.toContain("made-up");
    } finally {
      await wildcard.close();
    }
  });

  it("is served by a service running on its own, next to its RPCs", async () => {
    const metrics = await scrape(`http://127.0.0.1:${router.port}/metrics`);
    expect(family(metrics, "process_cpu_seconds_total").type).toBe("COUNTER");
  });
});

describe("Prometheus metrics behind the master key (litellm_settings.require_auth_for_metrics_endpoint)", () => {
  let gateway: RunningGateway;

  beforeAll(async () => {
    const config = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, mock_response: "hi" }
litellm_settings:
  require_auth_for_metrics_endpoint: true
general_settings:
  master_key: ${MASTER_KEY}
`);
    gateway = await startGateway(gatewayOptions("all", config, {}));
  });

  afterAll(() => gateway?.close());

  it("refuses a scrape without the master key, or with a virtual key, and serves one with it", async () => {
    const url = `http://127.0.0.1:${gateway.port}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const generated = await fetch(`http://127.0.0.1:${gateway.port}/key/generate`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}` }, body: "{}" });
    const { key } = (await generated.json()) as { key: string };
    expect((await fetch(url, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    const scraped = await fetch(url, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("gateway_requests_total");
  });
});
