import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import { gatewayError, LightAbortController, metrics, type Logger } from "@gateway/common";
import { AnsweredStream } from "./answered-stream.js";
import type { BudgetHold, OverBudget, RouterBudgets } from "./budgets.js";
import { withCallDefaults } from "./call-defaults.js";
import type { Answer, CallHandler } from "./calls.js";
import type { CacheSettings } from "./config/cache-settings.js";
import { deploymentLabels, type Deployment } from "./config/deployment.js";
import type { ModelGroup, ModelGroups } from "./config/model-groups.js";
import type { Cooldowns } from "./cooldowns.js";
import type { DeploymentStats } from "./deployment-stats.js";
import type { DeploymentLimits } from "./deployment-limits.js";
import { allowedFails, policyErrorOf, policyRetries } from "./failure-policies.js";
import { fallbacksFor } from "./fallbacks.js";
import { costFor, finished, type Outcome, type CallEvent } from "./outcome.js";
import { toConnectError } from "./provider-errors.js";
import { inProviderSpan } from "./provider-span.js";
import type { OpenAIBody } from "./providers/provider.js";
import { backoffMs, blamesDeployment, classify, type Failure } from "./retry.js";
import type { RoutingStrategy } from "./strategies/strategy.js";
import { noTaggedDeployment, taggedGroup } from "./tag-routing.js";

/** A config load's model groups with the strategy its router_settings name. */
export interface RoutingTable {
  groups: ModelGroups;
  strategy: RoutingStrategy;
  /** Per-deployment rpm/tpm shared by the router replicas; usage-based routing only. */
  limits: DeploymentLimits | undefined;
  /** Provider and deployment budgets shared by the router replicas; absent when no deployment has one. */
  budgets?: RouterBudgets | undefined;
  /** The response cache's settings; absent when it is off. */
  cache?: CacheSettings | undefined;
}

/** What the router keeps about deployments across requests (and config reloads). */
export interface RoutingState {
  cooldowns: Cooldowns;
  stats: DeploymentStats;
  logger: Logger;
}

export interface RoutedCall {
  /** Named on every log line written for this request. */
  requestId: string;
  table: RoutingTable;
  handler: CallHandler;
  body: OpenAIBody;
  headers: Readonly<Record<string, string>>;
  /** The client's cancellation. */
  signal: AbortSignal;
  /** Tokens the request may take, for usage-based routing's tpm. */
  estimatedTokens: number;
  /** The request body's bytes, max_tokens (0: not set) and answers asked for (n, best_of; 0: one): what a budget reserves for it. */
  promptBytes: number;
  maxTokens: number;
  answers: number;
  /** The client's tags, for tag-based routing. */
  tags: readonly string[];
  /** The client's own retries within a group, timeout per provider call and, for a stream, wait for each next part (LiteLLM's num_retries, timeout, stream_timeout); undefined: the config's. */
  numRetries: number | undefined;
  timeoutMs: number | undefined;
  streamTimeoutMs: number | undefined;
  /** The client's fallbacks (LiteLLM's client-side fallbacks), in place of the config's; empty: the config's. */
  fallbacks: readonly string[];
  /** The client asked for its model group to fail without a call (LiteLLM's mock_testing_fallbacks), to try the fallbacks. */
  mockFailure: boolean;
  /** The client asked for no fallbacks at all (LiteLLM's disable_fallbacks). */
  disableFallbacks: boolean;
}

/** How one model group's attempts ended, when none succeeded. */
interface GroupFailure {
  failure: Failure;
  error: unknown;
}

export function modelNotFound(requested: string, groups: ModelGroups): Error {
  return gatewayError(`Invalid model name passed in model=${requested}. Available models: ${groups.listed().join(", ")}`, Code.InvalidArgument, {
    type: "invalid_request_error",
    param: "model",
    code: "model_not_found",
  });
}

function noDeployments(group: ModelGroup, retryAfterMs: number, over: readonly OverBudget[], busy: boolean): Error {
  // LiteLLM's words when budgets are what stopped every deployment.
  const why =
    over.length === 0
      ? `No deployments available for model group ${group.name}: every deployment is cooling down or at its ${busy ? "rate limit or max_parallel_requests" : "rate limit"}`
      : `No deployments available - crossed budget for model group ${group.name}: ${[...new Set(over.map((o) => o.budget.name))].join(", ")} over budget`;
  return gatewayError(why, Code.ResourceExhausted, {
    type: "rate_limit_error",
    status: 429,
    headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
}

function unknownFallback(name: string, groups: ModelGroups): Error {
  return gatewayError(`Invalid model name passed in fallbacks: ${name}. Available models: ${groups.listed().join(", ")}`, Code.InvalidArgument, {
    type: "invalid_request_error",
    param: "fallbacks",
    code: "model_not_found",
  });
}

/** The first group's failure when the client asked for one (mock_testing_fallbacks): no deployment is called or blamed. */
function mockedFailure(group: ModelGroup): GroupFailure {
  const error = gatewayError(`mock_testing_fallbacks: model group ${group.name} failed on purpose, and no fallback answered`, Code.Unavailable, {
    type: "api_error",
    status: 500,
  });
  return { failure: { kind: "retryable", status: 500, retryAfterMs: undefined }, error };
}

/**
 * Runs a call on the model group it names, retrying within the group and
 * then falling back to other groups, until a deployment has started
 * answering; resolves to its answer. After that nothing is retried: a
 * failure mid-stream is the client's to see, after a Finished event with the
 * usage seen so far. The events themselves pass through no generator here.
 */
export async function routeCall(call: RoutedCall, requested: string, outcome: Outcome, state: RoutingState): Promise<Answer> {
  const { groups } = call.table;
  const named = groups.resolve(requested);
  if (!named) throw modelNotFound(requested, groups);
  const first = groups.settings.tagFiltering ? taggedGroup(named, call.tags) : named;
  if (!first) throw noTaggedDeployment(requested, call.tags);
  for (const name of call.fallbacks) if (!groups.resolve(name)) throw unknownFallback(name, groups);
  // Chosen by how the first group failed, once it has.
  let fallbackNames: Iterator<string> | undefined;
  let fallbacks = 0;
  for (let group = first; ; ) {
    let last: GroupFailure;
    if (fallbacks === 0 && call.mockFailure) last = mockedFailure(group);
    else {
      const attempts = new GroupAttempts(call, group, state);
      for (let d = await attempts.pick(); d; ) {
        const result = await attempt(call, d, attempts, fallbacks, outcome, state);
        if ("answer" in result) return result.answer;
        d = await attempts.next(d, result);
      }
      last = attempts.failure!;
    }
    if (fallbacks > 0) outcome.fallbacks!.failed.push(group.name);
    fallbackNames ??= fallbacksFor(first.name, last.failure, groups.settings, call.fallbacks)[Symbol.iterator]();
    const fallback = call.disableFallbacks || last.failure.kind === "cancelled" || last.failure.kind === "request" ? undefined : nextGroup(fallbackNames, groups, call.tags);
    if (!fallback) throw last.error;
    outcome.fallbacks ??= { cause: { status: last.failure.status, type: toConnectError(last.error).metadata.get("x-error-type") ?? "" }, failed: [] };
    fallbacks += 1;
    state.logger.info({ requestId: call.requestId, from: first.name, to: fallback.name, status: last.failure.status }, "falling back to another model group");
    group = fallback;
  }
}

/** The next of the names that is a model group (a reload may have removed one) with deployments the request's tags may use. */
function nextGroup(names: Iterator<string>, groups: ModelGroups, tags: readonly string[]): ModelGroup | undefined {
  for (let name = names.next(); name.done !== true; name = names.next()) {
    const group = groups.resolve(name.value);
    const usable = group && groups.settings.tagFiltering ? taggedGroup(group, tags) : group;
    if (usable) return usable;
  }
  return undefined;
}

/** Deployments of the group worth an attempt now, the lowest order first; none of those `full` (at a limit or over a budget for this call). */
function candidates(group: ModelGroup, tried: ReadonlySet<string>, full: ReadonlySet<string>, state: RoutingState): readonly Deployment[] {
  const solo = group.deployments.length === 1;
  // The usual case, with nothing to filter: worked out at config load.
  if (tried.size === 0 && full.size === 0 && (solo || !group.deployments.some((d) => state.cooldowns.coolingDown(d.id)))) return group.firstChoice;
  const available = group.deployments.filter((d) => !full.has(d.id) && (solo || !state.cooldowns.coolingDown(d.id)));
  const untried = available.filter((d) => !tried.has(d.id));
  const pool = untried.length > 0 ? untried : available;
  let order = Number.POSITIVE_INFINITY;
  for (const d of pool) order = Math.min(order, d.order);
  return pool.filter((d) => d.order === order);
}

const NO_HOLDS: readonly BudgetHold[] = [];
const DAY_MS = 86_400_000;
// When every deployment was passed over for max_parallel_requests: calls end within seconds, so try again soon.
const BUSY_RETRY_MS = 1_000;

/** One model group's attempts at a call: which deployment goes next, and whether a failure earns another. */
class GroupAttempts {
  /** Attempts after the first. */
  retries = 0;
  /** Why the attempts ended without an answer, once they have. */
  failure: GroupFailure | undefined;
  private readonly tried = new Set<string>();
  /** What the picked deployment's call holds of its budgets. */
  holds: readonly BudgetHold[] = [];
  /**
   * When the picked deployment's admission began (unix ms): no later than
   * the minute its rpm/tpm were taken from, so settling by it never gives
   * unused tokens to a minute that did not reserve them.
   */
  admittedAt = 0;
  /** Deployments passed over because their shared rpm/tpm or a budget is used up, for this request. */
  private readonly full = new Set<string>();
  /** The budgets that passed deployments over. */
  private readonly over: OverBudget[] = [];
  /** Whether a deployment was passed over for having max_parallel_requests calls in flight. */
  private busy = false;

  constructor(
    private readonly call: RoutedCall,
    private readonly group: ModelGroup,
    private readonly state: RoutingState,
  ) {}

  /** The deployment to try next; undefined when none is left. */
  async pick(): Promise<Deployment | undefined> {
    const { call, group, state } = this;
    let d: Deployment | undefined;
    for (;;) {
      d = call.table.strategy.pick(group, candidates(group, this.tried, this.full, state), state.stats);
      if (!d) break;
      if (await this.admit(d)) break;
      this.full.add(d.id);
    }
    if (!d) {
      if (!this.failure) {
        // Cooling deployments come back when their time is up; used-up limits at the next minute, budgets at their next period (a day at most: one for good has none).
        const waitMs =
          state.cooldowns.nextAvailableIn(group.deployments.map((x) => x.id)) ||
          (this.busy ? BUSY_RETRY_MS : 0) ||
          (this.over.length > 0 ? Math.min(DAY_MS, ...this.over.map((o) => o.endsAt - Date.now())) : 60_000 - (Date.now() % 60_000));
        const error = noDeployments(group, waitMs, this.over, this.busy);
        this.failure = { failure: classify(error, call.signal.aborted), error };
      }
      return undefined;
    }
    this.tried.add(d.id);
    return d;
  }

  /**
   * Counts the call in flight on `d` (within its max_parallel_requests:
   * checked and counted at once, before anything is awaited, so calls
   * admitted together cannot pass it), then reserves what it needs; false
   * (nothing held or counted) when something has no room, and nothing left
   * counted should the reservation throw. The attempt that follows counts
   * the call out when it ends.
   */
  private async admit(d: Deployment): Promise<boolean> {
    const { stats } = this.state;
    if (d.maxParallelRequests !== undefined && stats.inFlight(d.id) >= d.maxParallelRequests) {
      this.busy = true;
      return false;
    }
    stats.began(d.id);
    let admitted = false;
    try {
      admitted = await this.reserve(d);
      return admitted;
    } finally {
      if (!admitted) stats.done(d.id);
    }
  }

  /** Reserves the call's budgets and then its rpm/tpm on `d`; false (nothing held) when either has no room. */
  private async reserve(d: Deployment): Promise<boolean> {
    const { budgets, limits } = this.call.table;
    const held = budgets && d.budgets ? await budgets.reserve(d, this.call.promptBytes, this.call.maxTokens, this.call.answers) : NO_HOLDS;
    if (!Array.isArray(held)) {
      this.over.push(held as OverBudget);
      return false;
    }
    const admittedAt = Date.now();
    if (limits && !(await limits.admit(d, this.call.estimatedTokens))) {
      budgets?.release(held);
      return false;
    }
    this.holds = held;
    this.admittedAt = admittedAt;
    return true;
  }

  /** Takes how the attempt on `d` failed; resolves to the deployment to try next, undefined when the group is done. */
  async next(d: Deployment, result: GroupFailure): Promise<Deployment | undefined> {
    const { call, group, state } = this;
    const settings = call.table.groups.settings;
    this.failure = result;
    const { failure } = result;
    const named = policyErrorOf(failure, result.error);
    if (blamesDeployment(failure) && group.deployments.length > 1 && state.cooldowns.failed(d.id, allowedFails(settings, d, named), settings.cooldownMs)) {
      state.logger.warn({ requestId: call.requestId, deployment: d.id, modelGroup: group.name, cooldownMs: settings.cooldownMs }, "deployment cooling down after repeated failures");
      metrics.deploymentCooledDown(deploymentLabels(d), failure.status);
    }
    // The retry policy's count for this kind of failure, else num_retries for those worth another attempt.
    const retries = policyRetries(settings, group.name, named) ?? (failure.kind === "retryable" ? (call.numRetries ?? settings.numRetries) : 0);
    if (failure.kind === "cancelled" || this.retries >= retries) return undefined;
    // Another deployment is tried at once; the same one only after a pause.
    const elsewhere = candidates(group, this.tried, this.full, state).some((c) => !this.tried.has(c.id));
    const waitMs = elsewhere ? settings.retryAfterMs : backoffMs(this.retries, failure.retryAfterMs, settings.retryAfterMs);
    if (waitMs === undefined) return undefined;
    this.retries += 1;
    if (waitMs > 0) {
      try {
        await sleep(waitMs, undefined, { signal: call.signal });
      } catch (error) {
        this.failure = { failure: classify(error, true), error };
        return undefined;
      }
    }
    return this.pick();
  }
}

/** One call to one deployment: its answer once it has started answering, or how it failed before that. */
async function attempt(
  call: RoutedCall,
  d: Deployment,
  attempts: GroupAttempts,
  fallbacks: number,
  outcome: Outcome,
  state: RoutingState,
): Promise<{ answer: Answer } | GroupFailure> {
  const stream = call.body["stream"] === true;
  const { signal, release, extend, hold } = deadline(call.signal, stream ? (call.streamTimeoutMs ?? call.timeoutMs ?? d.streamTimeoutMs) : (call.timeoutMs ?? d.timeoutMs));
  const { holds, retries, admittedAt } = attempts;
  // Finer than Date.now(): a deployment on this machine can answer within a millisecond.
  const began = performance.now();
  // What an earlier, failed attempt left is not this one's.
  Object.assign(outcome, { usage: undefined, usageEstimated: false, attemptedFallbacks: fallbacks, failure: undefined });
  // Counted in flight when it was admitted (GroupAttempts.admit); counted out here, once it ends.
  /** Once the call is over, answered or not. */
  const end = (answered: boolean) => {
    if (answered) outcome.apiMs = performance.now() - began;
    release();
    state.stats.done(d.id);
    const used = answered && outcome.usage ? outcome.usage.promptTokens + outcome.usage.completionTokens : 0;
    call.table.limits?.settle(d, call.estimatedTokens, used, admittedAt);
    if (holds.length > 0) call.table.budgets?.settle(holds, answered && outcome.usage ? costFor(d, outcome.usage) : 0);
  };
  let rateLimits: Record<string, string> | undefined;
  const answering = (event: CallEvent | undefined) => {
    const e = event?.event;
    if (e?.case !== "started") return;
    e.value.attemptedRetries = retries;
    e.value.attemptedFallbacks = fallbacks;
    if (rateLimits) e.value.providerHeaders = outcome.rateLimits = rateLimits;
    const took = performance.now() - began;
    e.value.providerMs = (outcome.providerMs ?? 0) + took;
    state.stats.recordLatency(d.id, took);
  };
  try {
    const rateLimited = (headers: Record<string, string>) => (rateLimits = headers);
    const body = withCallDefaults(call.body, d.callDefaults, call.handler.defaults);
    const providerCall = { deployment: d, body, signal, headers: call.headers, progressed: stream ? extend : undefined, held: stream ? hold : undefined, rateLimited };
    const events = inProviderSpan(d, () => call.handler.run(providerCall, outcome));
    if (events instanceof Promise) {
      const all = await events;
      answering(all[0]);
      end(true);
      return { answer: all };
    }
    const rest = events[Symbol.asyncIterator]();
    const first = await rest.next();
    if (first.done === true) {
      end(true);
      return { answer: [] };
    }
    answering(first.value);
    // The client has seen part of the answer when it breaks: it is told what it used, then the error.
    const lastWords = () => (outcome.usage ? finished(outcome, d, outcome.usage) : undefined);
    const firstChunk = () => (outcome.firstTokenMs = performance.now() - began);
    return { answer: new AnsweredStream(first.value, rest, lastWords, () => end(true), firstChunk) };
  } catch (error) {
    end(false);
    outcome.providerMs = (outcome.providerMs ?? 0) + (performance.now() - began);
    const failure = classify(error, call.signal.aborted);
    if (signal.aborted && !call.signal.aborted) state.stats.recordLatency(d.id, performance.now() - began);
    state.logger.debug({ requestId: call.requestId, deployment: d.id, status: failure.status, kind: failure.kind }, "deployment call failed");
    return { failure, error };
  }
}

/**
 * A signal that aborts with the client's, or with a TimeoutError after `ms`:
 * what AbortSignal.any over AbortSignal.timeout gives, for one timer and one
 * listener instead of two signals and their bookkeeping on every call.
 * `extend` starts the `ms` again from now. While `hold(true)` holds (the
 * stream waits for its reader, not for the provider), the time is not up:
 * should it run out then, it starts again once `hold(false)` lets go.
 */
function deadline(client: AbortSignal, ms: number): { signal: AbortSignal; release: () => void; extend: () => void; hold: (held: boolean) => void } {
  const controller = new LightAbortController();
  const onClientAbort = () => controller.abort(client.reason);
  let held = false;
  let lapsedWhileHeld = false;
  const timer = setTimeout(() => {
    if (held) lapsedWhileHeld = true;
    else controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError"));
  }, ms);
  let released = false;
  if (client.aborted) onClientAbort();
  else client.addEventListener("abort", onClientAbort, { once: true });
  return {
    signal: controller.signal,
    release: () => {
      released = true;
      clearTimeout(timer);
      client.removeEventListener("abort", onClientAbort);
    },
    // refresh() would start a cleared or fired timer again, holding the process open for `ms`.
    extend: () => {
      if (!released && !controller.signal.aborted) timer.refresh();
    },
    hold: (on) => {
      held = on;
      if (on || !lapsedWhileHeld) return;
      lapsedWhileHeld = false;
      if (!released && !controller.signal.aborted) timer.refresh();
    },
  };
}
