import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { budgetGauges, deploymentStateGauge, LiteLLMMetrics, type BudgetState, type DeploymentLabels, type DeploymentState, type LiteLLMRequest } from "./litellm-metrics.js";
import { SeriesCounter, SeriesGauge, SeriesHistogram } from "./metric-series.js";

// Prometheus metrics: one registry per process, served by the edge at
// /metrics and, in split mode, by each service's Connect server at /metrics.
// Labels come from config (model groups, deployment ids, route names) or
// from small fixed sets, never from what a client sends, so a client cannot
// grow the registry.

export const metricsRegistry = new Registry();
// The event loop lag series sample a timer of this period. prom-client's
// default, 10 ms, wakes an idle process a hundred times a second; ten still
// give a scrape interval over a hundred samples.
const EVENT_LOOP_SAMPLE_MS = 100;
collectDefaultMetrics({ register: metricsRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

// Updated on every request: plain-number series (metric-series.ts).
const requests = new SeriesCounter(
  "gateway_requests_total",
  "Requests that reached the router, by model group, deployment, call type, status and OpenAI error type.",
  ["model_group", "deployment", "call_type", "status", "error_type"],
  metricsRegistry,
);

const requestDuration = new SeriesHistogram(
  "gateway_request_duration_seconds",
  "Time from the router taking a request to its last byte, by model group and deployment.",
  ["model_group", "deployment", "call_type"],
  LATENCY_BUCKETS,
  metricsRegistry,
);

const tokens = new SeriesCounter(
  "gateway_tokens_total",
  "Tokens by model group, deployment and direction (prompt or completion).",
  ["model_group", "deployment", "direction"],
  metricsRegistry,
);

const cacheHits = new SeriesCounter(
  "gateway_cache_hits_total",
  "Requests answered from the response cache (no provider call), by model group and call type.",
  ["model_group", "call_type"],
  metricsRegistry,
);

const spend = new SeriesCounter("gateway_spend_usd_total", "Spend in US dollars by model group and deployment.", ["model_group", "deployment"], metricsRegistry);

const httpRequests = new SeriesCounter("gateway_http_requests_total", "HTTP requests answered by the edge, by route and status code.", ["route", "code"], metricsRegistry);

const httpDuration = new SeriesHistogram(
  "gateway_http_request_duration_seconds",
  "Time the edge took to answer, by route (streams: until the last byte).",
  ["route"],
  LATENCY_BUCKETS,
  metricsRegistry,
);

const httpErrors = new SeriesCounter("gateway_http_errors_total", "Error responses of the edge, by route and OpenAI error type.", ["route", "error_type"], metricsRegistry);

const inFlight = new SeriesGauge("gateway_http_requests_in_flight", "HTTP requests the edge is working on, by route.", ["route"], metricsRegistry);

const rateLimitRejections = new Counter({
  name: "gateway_rate_limit_rejections_total",
  help: "Requests refused by a rate limit, by the limit that refused them (rpm, tpm, parallel, ...).",
  labelNames: ["limit"] as const,
  registers: [metricsRegistry],
});

const ledgerBooked = new Counter({
  name: "gateway_ledger_rows_booked_total",
  help: "Usage events booked into the ledger as new rows (redeliveries excluded).",
  registers: [metricsRegistry],
});

/** Where a durable consumer stands; read at scrape time. */
export interface ConsumerLag {
  /** Messages stored and not yet delivered to the consumer. */
  pending: number;
  /** Messages delivered and not yet acknowledged. */
  ackPending: number;
}

const lagSources = new Map<string, () => Promise<ConsumerLag>>();

async function readLag(): Promise<Map<string, ConsumerLag>> {
  const lags = new Map<string, ConsumerLag>();
  await Promise.all(
    [...lagSources].map(async ([durable, read]) => {
      // A consumer that cannot answer (NATS restarting) is left out of this scrape.
      const lag = await read().catch(() => undefined);
      if (lag) lags.set(durable, lag);
    }),
  );
  return lags;
}

function lagGauge(name: string, help: string, pick: (lag: ConsumerLag) => number): Gauge<"durable"> {
  return new Gauge({
    name,
    help,
    labelNames: ["durable"] as const,
    registers: [metricsRegistry],
    async collect() {
      const lags = await readLag();
      this.reset();
      for (const [durable, lag] of lags) this.set({ durable }, pick(lag));
    },
  });
}

lagGauge("gateway_jetstream_consumer_pending", "Usage messages in JetStream not yet delivered to the consumer.", (lag) => lag.pending);
lagGauge("gateway_jetstream_consumer_ack_pending", "Usage messages delivered to the consumer and not yet acknowledged.", (lag) => lag.ackPending);

/** What the router knows of a finished request. */
export interface RequestOutcome {
  /** The configured model group, or "" when no deployment was chosen. */
  modelGroup: string;
  deployment: string;
  callType: string;
  success: boolean;
  errorType: string;
  latencyMs: number;
  promptTokens: number;
  completionTokens: number;
  spendUsd: number;
  /** Answered from the response cache: no provider was called. */
  cacheHit: boolean;
}

/**
 * Live subject on which a keys replica tells every process the hashes of
 * keys it deleted (JSON: an array of hashes), so LiteLLM's metrics drop
 * their series.
 */
export const KEYS_DELETED_SUBJECT = "keys.deleted";

// LiteLLM's metrics, once the config asks for them, and where its gauges read.
let litellm: LiteLLMMetrics | undefined;
let budgetRead: (() => Promise<BudgetState[]>) | undefined;
let deploymentsRead: (() => DeploymentState[]) | undefined;

export const metrics = {
  /** Serves LiteLLM's metrics too (litellm_settings.callbacks: ["prometheus"]), by end user when `endUsers`. */
  serveLiteLLM(endUsers: boolean): void {
    if (litellm) return;
    litellm = new LiteLLMMetrics(metricsRegistry, endUsers);
    // Series only where a keys service (watchBudgets) or a router (watchDeployments) runs.
    budgetGauges(metricsRegistry, () => budgetRead?.() ?? Promise.resolve([]));
    deploymentStateGauge(metricsRegistry, () => deploymentsRead?.() ?? []);
  },

  /** Serves LiteLLM's litellm_deployment_state from `read` at each scrape, when LiteLLM's metrics are served; returns the function that stops it. */
  watchDeployments(read: () => DeploymentState[]): () => void {
    if (!litellm) return () => {};
    deploymentsRead = read;
    return () => {
      if (deploymentsRead === read) deploymentsRead = undefined;
    };
  },

  /** A deployment cooled down after repeated failures, the last with HTTP `status`. */
  deploymentCooledDown(d: DeploymentLabels, status: number): void {
    litellm?.cooledDown(d, status);
  },

  /**
   * Serves LiteLLM's budget gauges from `read` at each scrape, when LiteLLM's
   * metrics are served; returns the function that stops it.
   */
  watchBudgets(read: () => Promise<BudgetState[]>): () => void {
    if (!litellm) return () => {};
    budgetRead = read;
    return () => {
      if (budgetRead === read) budgetRead = undefined;
    };
  },

  /** Whether LiteLLM's metrics are served: callers build their requests' labels (liteLLMRequest) only then. */
  get servesLiteLLM(): boolean {
    return litellm !== undefined;
  },

  /**
   * Drops the series of deployments no longer in the model list (a model
   * deleted, a config reload that removed one): each deployment ever added
   * kept its own for good.
   */
  retainDeployments(ids: ReadonlySet<string>): void {
    const gone = (id: string) => id !== "" && !ids.has(id);
    for (const series of [requests, requestDuration, tokens, spend]) series.forget("deployment", gone);
    litellm?.retainDeployments(ids);
  },

  /** Drops LiteLLM's series of the deleted keys a KEYS_DELETED_SUBJECT push names; nothing when it cannot be read. */
  forgetDeletedKeys(data: Uint8Array): void {
    if (!litellm) return;
    try {
      const hashes: unknown = JSON.parse(Buffer.from(data).toString());
      if (Array.isArray(hashes)) litellm.forgetKeys(new Set(hashes.filter((hash): hash is string => typeof hash === "string")));
    } catch {
      // Not ours to read: nothing to drop.
    }
  },

  /** One finished request in LiteLLM's metrics (a cached answer with no deployment). */
  liteLLMRequest(request: LiteLLMRequest): void {
    litellm?.request(request);
  },

  /** One request that reached the router, when it is finished. */
  request(outcome: RequestOutcome): void {
    const { modelGroup, deployment, callType } = outcome;
    requests.inc([modelGroup, deployment, callType, outcome.success ? "success" : "failure", outcome.errorType]);
    // A cached answer took no time nor tokens of the deployment that once gave it.
    if (outcome.cacheHit) {
      cacheHits.inc([modelGroup, callType]);
      return;
    }
    // A request refused before a deployment was chosen says nothing about any deployment's latency.
    if (deployment !== "") requestDuration.observe([modelGroup, deployment, callType], outcome.latencyMs / 1000);
    if (outcome.promptTokens > 0) tokens.inc([modelGroup, deployment, "prompt"], outcome.promptTokens);
    if (outcome.completionTokens > 0) tokens.inc([modelGroup, deployment, "completion"], outcome.completionTokens);
    if (outcome.spendUsd > 0) spend.inc([modelGroup, deployment], outcome.spendUsd);
  },

  /**
   * An HTTP request entering the edge; call the returned function once with
   * the status it was answered with (and the error type when it failed).
   */
  httpRequest(route: string): (code: number, errorType?: string) => void {
    const started = performance.now();
    const labels = [route];
    inFlight.add(labels, 1);
    return (code, errorType) => {
      inFlight.add(labels, -1);
      httpRequests.inc([route, String(code)]);
      httpDuration.observe(labels, (performance.now() - started) / 1000);
      if (errorType !== undefined) httpErrors.inc([route, errorType]);
    };
  },

  /** A request refused by a rate limit ("rpm", "tpm", "parallel", or the limit's own name). */
  rateLimitRejection(limit: string): void {
    rateLimitRejections.inc({ limit });
  },

  ledgerBooked(rows: number): void {
    ledgerBooked.inc(rows);
  },

  /** Reports a durable consumer's lag at each scrape; returns the function that stops it. */
  watchConsumer(durable: string, read: () => Promise<ConsumerLag>): () => void {
    lagSources.set(durable, read);
    return () => {
      if (lagSources.get(durable) === read) lagSources.delete(durable);
    };
  },
};

/** Answers a scrape: the registry in Prometheus' text format. */
export async function sendMetrics(res: { writeHead(status: number, headers: Record<string, string>): unknown; end(body: string): unknown }): Promise<void> {
  let body: string;
  try {
    body = await metricsRegistry.metrics();
  } catch (err) {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`metrics failed: ${(err as Error).message}\n`);
    return;
  }
  res.writeHead(200, { "content-type": metricsRegistry.contentType });
  res.end(body);
}
