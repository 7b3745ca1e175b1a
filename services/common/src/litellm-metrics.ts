import { Gauge, type Registry } from "prom-client";
import { SeriesCounter, SeriesGauge, SeriesHistogram } from "./metric-series.js";

// LiteLLM's Prometheus metrics (its `prometheus` callback), by its names and
// labels, so that dashboards and alerts made for LiteLLM read this gateway:
// served beside the gateway's own when the config asks for that callback.
// Their labels name keys, teams and users, as LiteLLM's do, so there is a
// series per key (and model group) in use; end users only when
// enable_end_user_cost_tracking_prometheus_only asks, as in LiteLLM.

/** One finished request, as LiteLLM's labels name its parts. */
export interface LiteLLMRequest {
  keyHash: string;
  keyAlias: string;
  teamId: string;
  teamAlias: string;
  userId: string;
  endUser: string;
  /** The model group configured (requested_model). */
  modelGroup: string;
  /** The deployment's id (model_id); "" when none was called. */
  deployment: string;
  /** The provider's name of the model (model, litellm_model_name). */
  providerModel: string;
  provider: string;
  apiBase: string;
  success: boolean;
  httpStatus: number;
  errorType: string;
  latencyMs: number;
  /** Milliseconds the answering provider call took to its answer's end; 0 when none answered. */
  apiMs: number;
  /** Milliseconds from that call's start to its stream's first chunk; 0 for a whole answer. */
  firstTokenMs: number;
  /** The model group the client asked for, before any fallback. */
  requestedModel: string;
  /** Set when the call fell back: why (the first group's failure), and the fallback groups that failed too. */
  fallbacks: { cause: { status: number; type: string }; failed: readonly string[] } | undefined;
  /** What the provider said is left of its request and token rate limits (its x-ratelimit-remaining-* headers). */
  remainingRequests: number | undefined;
  remainingTokens: number | undefined;
  promptTokens: number;
  completionTokens: number;
  spendUsd: number;
}

/** A deployment as LiteLLM's deployment series label it. */
export interface DeploymentLabels {
  /** The provider's name of the model (litellm_model_name). */
  providerModel: string;
  /** model_id. */
  id: string;
  apiBase: string;
  provider: string;
}

/** A deployment's state as LiteLLM's litellm_deployment_state shows it: 0 healthy, 1 failing lately, 2 cooling down. */
export interface DeploymentState extends DeploymentLabels {
  state: number;
}

/** A key's or a team's budget as LiteLLM's gauges show it, read when scraped. */
export interface BudgetState {
  kind: "key" | "team";
  /** The key's hash, or the team's id. */
  id: string;
  alias: string;
  maxBudget: number;
  /** What its current budget period has spent, US dollars. */
  spend: number;
  /** When the period ends, unix ms; undefined for a budget for good. */
  resetsAtMs?: number | undefined;
}

// One read of the budgets serves every gauge of a scrape.
const BUDGET_READ_REUSE_MS = 1_000;

const BUCKETS = [0.005, 0.0125, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 60, 120, 180, 300];

// LiteLLM names a failure by the exception class its OpenAI-style error raises.
const EXCEPTION_CLASSES: Readonly<Record<string, string>> = {
  invalid_request_error: "BadRequestError",
  authentication_error: "AuthenticationError",
  permission_error: "PermissionDeniedError",
  not_found_error: "NotFoundError",
  rate_limit_error: "RateLimitError",
  timeout: "Timeout",
  api_connection_error: "APIConnectionError",
  context_window_exceeded: "ContextWindowExceededError",
  content_policy_violation: "ContentPolicyViolationError",
  budget_exceeded: "BudgetExceededError",
  api_error: "APIError",
};

/** The exception class LiteLLM names an error type with; the type itself for one it has no class for. */
const exceptionClass = (type: string): string => (Object.hasOwn(EXCEPTION_CLASSES, type) ? EXCEPTION_CLASSES[type]! : type);

const USER = ["end_user", "hashed_api_key", "api_key_alias", "team", "team_alias", "user"];
const WITH_MODELS = [...USER, "requested_model", "model"];
const DEPLOYMENT = ["requested_model", "litellm_model_name", "model_id", "api_base", "api_provider", "hashed_api_key", "api_key_alias", "team", "team_alias"];
const EXCEPTION = ["exception_status", "exception_class"];
const DEPLOYMENT_ITSELF = ["litellm_model_name", "model_id", "api_base", "api_provider"];
const FALLBACK = ["requested_model", "fallback_model", "hashed_api_key", "api_key_alias", "team", "team_alias", ...EXCEPTION];
const API_CALL = ["model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model", "end_user", "user", "model_id"];
const DEPLOYMENT_KEY = ["model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias", "model_id"];

export class LiteLLMMetrics {
  private readonly requests: SeriesCounter;
  private readonly spend: SeriesCounter;
  private readonly totalTokens: SeriesCounter;
  private readonly inputTokens: SeriesCounter;
  private readonly outputTokens: SeriesCounter;
  private readonly proxyRequests: SeriesCounter;
  private readonly proxyFailures: SeriesCounter;
  private readonly latency: SeriesHistogram;
  private readonly deploymentSuccesses: SeriesCounter;
  private readonly deploymentFailures: SeriesCounter;
  private readonly deploymentRequests: SeriesCounter;
  private readonly cooledDowns: SeriesCounter;
  private readonly apiLatency: SeriesHistogram;
  private readonly firstToken: SeriesHistogram;
  private readonly overhead: SeriesHistogram;
  private readonly perOutputToken: SeriesHistogram;
  private readonly remainingRequests: SeriesGauge;
  private readonly remainingTokens: SeriesGauge;
  private readonly fallbackSuccesses: SeriesCounter;
  private readonly fallbackFailures: SeriesCounter;
  private readonly all: readonly (SeriesCounter | SeriesGauge | SeriesHistogram)[];

  /** `endUsers`: label series by end user (LiteLLM's enable_end_user_cost_tracking_prometheus_only). */
  constructor(
    registry: Registry,
    private readonly endUsers: boolean,
  ) {
    const counter = (name: string, help: string, labels: string[]) => new SeriesCounter(name, help, labels, registry);
    this.requests = counter("litellm_requests_metric_total", "LLM calls answered, by key, team, user and model.", [...USER, "model"]);
    this.spend = counter("litellm_spend_metric_total", "Spend in US dollars, by key, team, user and model.", [...USER, "model"]);
    this.totalTokens = counter("litellm_total_tokens_metric_total", "Input and output tokens.", WITH_MODELS);
    this.inputTokens = counter("litellm_input_tokens_metric_total", "Input tokens.", WITH_MODELS);
    this.outputTokens = counter("litellm_output_tokens_metric_total", "Output tokens.", WITH_MODELS);
    this.proxyRequests = counter("litellm_proxy_total_requests_metric_total", "Requests to the gateway, by status code.", [...USER, "requested_model", "status_code"]);
    this.proxyFailures = counter("litellm_proxy_failed_requests_metric_total", "Requests the gateway answered with an error.", [...USER, "requested_model", ...EXCEPTION]);
    this.latency = new SeriesHistogram("litellm_request_total_latency_metric", "Seconds a request took in the gateway.", WITH_MODELS, BUCKETS, registry);
    this.deploymentSuccesses = counter("litellm_deployment_success_responses_total", "Successful calls to a deployment.", DEPLOYMENT);
    this.deploymentFailures = counter("litellm_deployment_failure_responses_total", "Failed calls to a deployment.", [...DEPLOYMENT, ...EXCEPTION]);
    this.deploymentRequests = counter("litellm_deployment_total_requests_total", "Calls to a deployment, successful or not.", DEPLOYMENT);
    this.cooledDowns = counter("litellm_deployment_cooled_down_total", "Times a deployment was cooled down after repeated failures.", [...DEPLOYMENT_ITSELF, "exception_status"]);
    this.fallbackSuccesses = counter("litellm_deployment_successful_fallbacks_total", "Fallbacks to another model group that answered, by the group asked for and the fallback.", FALLBACK);
    this.fallbackFailures = counter("litellm_deployment_failed_fallbacks_total", "Fallbacks to another model group that failed too.", FALLBACK);
    const histogram = (name: string, help: string, labels: string[]) => new SeriesHistogram(name, help, labels, BUCKETS, registry);
    this.apiLatency = histogram("litellm_llm_api_latency_metric", "Seconds the provider call that answered took, to its answer's end.", API_CALL);
    this.firstToken = histogram("litellm_llm_api_time_to_first_token_metric", "Seconds from a streamed provider call's start to its first chunk.", API_CALL);
    this.overhead = histogram("litellm_overhead_latency_metric", "Seconds a request spent in the gateway beside its provider calls.", DEPLOYMENT_KEY);
    this.perOutputToken = histogram("litellm_deployment_latency_per_output_token", "Seconds of the provider call per output token.", [...DEPLOYMENT_ITSELF, "hashed_api_key", "api_key_alias", "team", "team_alias"]);
    const gauge = (name: string, help: string) => new SeriesGauge(name, help, DEPLOYMENT_KEY, registry);
    this.remainingRequests = gauge("litellm_remaining_requests_metric", "Requests left in the deployment's rate-limit window, as its provider last said.");
    this.remainingTokens = gauge("litellm_remaining_tokens_metric", "Tokens left in the deployment's rate-limit window, as its provider last said.");
    this.all = [
      this.requests, this.spend, this.totalTokens, this.inputTokens, this.outputTokens, this.proxyRequests, this.proxyFailures, this.latency,
      this.deploymentSuccesses, this.deploymentFailures, this.deploymentRequests, this.cooledDowns, this.fallbackSuccesses, this.fallbackFailures,
      this.apiLatency, this.firstToken, this.overhead, this.perOutputToken, this.remainingRequests, this.remainingTokens,
    ];
  }

  /** Drops every series of these keys (by hashed_api_key): deleted, they make no more, and kept, one set per key ever used piled up. */
  forgetKeys(keyHashes: ReadonlySet<string>): void {
    if (keyHashes.size === 0) return;
    for (const series of this.all) series.forget("hashed_api_key", (hash) => keyHashes.has(hash));
  }

  /** Drops every series of a deployment no longer in the model list (by model_id): removed, it makes no more. */
  retainDeployments(ids: ReadonlySet<string>): void {
    for (const series of this.all) series.forget("model_id", (id) => id !== "" && !ids.has(id));
  }

  /** A deployment cooled down after failures, the last with this HTTP status. */
  cooledDown(d: DeploymentLabels, status: number): void {
    this.cooledDowns.inc([d.providerModel, d.id, d.apiBase, d.provider, String(status)]);
  }

  private fellBack(r: LiteLLMRequest, { cause, failed }: NonNullable<LiteLLMRequest["fallbacks"]>): void {
    const labels = (fallback: string) => [r.requestedModel, fallback, r.keyHash, r.keyAlias, r.teamId, r.teamAlias, String(cause.status), exceptionClass(cause.type)];
    for (const group of failed) this.fallbackFailures.inc(labels(group));
    if (r.success) this.fallbackSuccesses.inc(labels(r.modelGroup));
  }

  request(r: LiteLLMRequest): void {
    const user = [this.endUsers ? r.endUser : "", r.keyHash, r.keyAlias, r.teamId, r.teamAlias, r.userId];
    const exception = r.success ? [] : [String(r.httpStatus), exceptionClass(r.errorType)];
    this.proxyRequests.inc([...user, r.modelGroup, String(r.httpStatus)]);
    if (!r.success) this.proxyFailures.inc([...user, r.modelGroup, ...exception]);
    if (r.deployment !== "") {
      const deployment = [r.modelGroup, r.providerModel, r.deployment, r.apiBase, r.provider, r.keyHash, r.keyAlias, r.teamId, r.teamAlias];
      this.deploymentRequests.inc(deployment);
      if (r.success) this.deploymentSuccesses.inc(deployment);
      else this.deploymentFailures.inc([...deployment, ...exception]);
    }
    if (r.fallbacks) this.fellBack(r, r.fallbacks);
    if (!r.success) return;
    const models = [...user, r.modelGroup, r.providerModel];
    this.requests.inc([...user, r.providerModel]);
    this.spend.inc([...user, r.providerModel], r.spendUsd);
    this.totalTokens.inc(models, r.promptTokens + r.completionTokens);
    this.inputTokens.inc(models, r.promptTokens);
    this.outputTokens.inc(models, r.completionTokens);
    this.latency.observe(models, r.latencyMs / 1000);
    // A cached answer called no provider.
    if (r.deployment === "" || r.apiMs <= 0) return;
    const call = [r.providerModel, r.keyHash, r.keyAlias, r.teamId, r.teamAlias, r.modelGroup, user[0]!, r.userId, r.deployment];
    this.apiLatency.observe(call, r.apiMs / 1000);
    if (r.firstTokenMs > 0) this.firstToken.observe(call, r.firstTokenMs / 1000);
    const deploymentKey = [r.modelGroup, r.provider, r.apiBase, r.providerModel, r.keyHash, r.keyAlias, r.deployment];
    this.overhead.observe(deploymentKey, Math.max(0, r.latencyMs - r.apiMs) / 1000);
    if (r.completionTokens > 0) this.perOutputToken.observe([r.providerModel, r.deployment, r.apiBase, r.provider, r.keyHash, r.keyAlias, r.teamId, r.teamAlias], r.apiMs / 1000 / r.completionTokens);
    if (r.remainingRequests !== undefined) this.remainingRequests.set(deploymentKey, r.remainingRequests);
    if (r.remainingTokens !== undefined) this.remainingTokens.set(deploymentKey, r.remainingTokens);
  }
}

/**
 * LiteLLM's budget gauges (litellm_api_key_max_budget_metric,
 * litellm_remaining_api_key_budget_metric, litellm_api_key_budget_remaining_hours_metric
 * and the team's three), from `read` at each scrape.
 */
export function budgetGauges(registry: Registry, read: () => Promise<BudgetState[]>): void {
  let last: { at: number; states: Promise<BudgetState[]> } | undefined;
  const states = () => {
    if (!last || Date.now() - last.at > BUDGET_READ_REUSE_MS) last = { at: Date.now(), states: read() };
    return last.states;
  };
  const gauge = (name: string, help: string, kind: BudgetState["kind"], value: (s: BudgetState) => number | undefined) => {
    const labelNames = kind === "key" ? (["hashed_api_key", "api_key_alias"] as const) : (["team_id", "team_alias"] as const);
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        // Budgets that cannot be read now (the database restarting) are left out of this scrape.
        const all = await states().catch(() => []);
        this.reset();
        for (const s of all) {
          const v = s.kind === kind ? value(s) : undefined;
          if (v !== undefined) this.set({ [labelNames[0]]: s.id, [labelNames[1]]: s.alias }, v);
        }
      },
    });
  };
  const hoursLeft = (s: BudgetState) => (s.resetsAtMs === undefined ? undefined : Math.max(0, (s.resetsAtMs - Date.now()) / 3_600_000));
  for (const [kind, prefix] of [["key", "api_key"], ["team", "team"]] as const) {
    gauge(`litellm_${prefix}_max_budget_metric`, `Max budget of a ${kind}, US dollars.`, kind, (s) => s.maxBudget);
    gauge(`litellm_remaining_${prefix}_budget_metric`, `What is left of a ${kind}'s budget in its current period, US dollars.`, kind, (s) => s.maxBudget - s.spend);
    gauge(`litellm_${prefix}_budget_remaining_hours_metric`, `Hours until a ${kind}'s budget period resets.`, kind, hoursLeft);
  }
}

/** LiteLLM's litellm_deployment_state, from `read` at each scrape. */
export function deploymentStateGauge(registry: Registry, read: () => DeploymentState[]): void {
  new Gauge({
    name: "litellm_deployment_state",
    help: "A deployment's state: 0 healthy, 1 failing within the last minute, 2 cooling down.",
    labelNames: DEPLOYMENT_ITSELF,
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read()) this.set({ litellm_model_name: d.providerModel, model_id: d.id, api_base: d.apiBase, api_provider: d.provider }, d.state);
    },
  });
}
