import { hash } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { gatewayError, tokensOnWire } from "@gateway/common";
import type { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { Answer } from "./calls.js";
import type { CacheSettings } from "./config/cache-settings.js";
import { started, type CallEvent, type Outcome } from "./outcome.js";
import type { Json } from "./providers/provider.js";
import { answerBytes, MAX_CACHED_BYTES, type CachedAnswer, type ResponseCache } from "./response-cache.js";
import type { SharedAnswers } from "./shared-answers.js";

/** How one request uses the response cache: its key, and what its `cache` controls allow. */
export interface CacheUse {
  key: string;
  /** An answer kept earlier may answer it (not `no-cache`). */
  read: boolean;
  /** Its own answer is kept (not `no-store`). */
  write: boolean;
  ttlMs: number;
  /** `s-maxage`: only an answer kept at most this long ago answers it. */
  maxAgeMs: number | undefined;
  /** Answers the cache keeps, at most (cache_params.max_size_in_memory). */
  maxEntries: number;
}

// Body fields that do not change the answer: the cache's own controls and the
// gateway's or caller's bookkeeping.
const NOT_IN_KEY = new Set(["cache", "metadata", "litellm_metadata", "tags", "litellm_session_id", "num_retries", "timeout", "stream_timeout", "fallbacks"]);

function invalid(message: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param: "cache" });
}

/** JSON with every object's keys in order, so two bodies that differ only in key order have one key. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== "object") return value;
  const sorted: Json = {};
  for (const name of Object.keys(value).sort()) sorted[name] = canonical((value as Json)[name]);
  return sorted;
}

function seconds(controls: Json, name: string): number | undefined {
  const value = controls[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !(value >= 0)) throw invalid(`cache.${name} must be a number of seconds`);
  return value * 1000;
}

/**
 * How a request uses the cache, from the settings and the body's `cache`
 * controls (LiteLLM's: no-cache, no-store, ttl, s-maxage, namespace,
 * use-cache); undefined when it does not use it at all. The key holds the
 * model group called (`model`, which a key's alias may have put in place of
 * the body's). `routingTags` are the request's tags when they choose its
 * deployments (tag-based routing): then they are part of the key.
 */
export function cacheUse(settings: CacheSettings, callType: CallType, body: Json, model: string, routingTags: readonly string[]): CacheUse | undefined {
  if (!settings.callTypes.has(callType)) return undefined;
  const raw = body["cache"] ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw invalid("cache must be an object");
  const controls = raw as Json;
  const useCache = controls["use-cache"];
  if (useCache === false || (!settings.defaultOn && useCache !== true)) return undefined;
  const read = controls["no-cache"] !== true;
  const write = controls["no-store"] !== true;
  if (!read && !write) return undefined;
  const namespace = controls["namespace"] ?? settings.namespace;
  if (typeof namespace !== "string") throw invalid("cache.namespace must be a string");
  const kept: Json = {};
  for (const name in body) if (!NOT_IN_KEY.has(name)) kept[name] = body[name];
  kept["model"] = model;
  const key = hash("sha256", JSON.stringify([namespace, callType, routingTags, canonical(kept)]), "hex");
  return { key, read, write, ttlMs: seconds(controls, "ttl") ?? settings.ttlMs, maxAgeMs: seconds(controls, "s-maxage"), maxEntries: settings.maxEntries };
}

/**
 * A kept answer as a call's events: Started naming the deployment that gave
 * it and the cache key, its events as they were, and Finished with the same
 * tokens at no cost. The outcome books it the same way.
 */
export function replay(hit: CachedAnswer, key: string, outcome: Outcome): CallEvent[] {
  outcome.deployment = hit.deployment;
  outcome.usage = hit.usage;
  outcome.usageEstimated = hit.usageEstimated;
  const opening = started(hit.deployment);
  if (opening.event.case === "started") opening.event.value.cacheKey = key;
  const closing: CallEvent = {
    $typeName: "gateway.router.v1.CompleteResponse",
    event: {
      case: "finished",
      value: { $typeName: "gateway.router.v1.Finished", promptTokens: tokensOnWire(hit.usage.promptTokens), completionTokens: tokensOnWire(hit.usage.completionTokens), cost: 0 },
    },
  };
  return [opening, ...hit.events, closing];
}

/**
 * The answer as the client reads it, kept in the cache (and shared, when
 * `shared` is given) once it is whole: a list at once, a stream when it has
 * been read to its end. An answer that failed, broke off or was given up is
 * not kept.
 */
export function keptAnswer(answer: Answer, use: CacheUse, cache: ResponseCache, outcome: Outcome, now: () => number, shared?: SharedAnswers): Answer {
  const keep = (events: readonly CallEvent[]) => {
    const { deployment, usage } = outcome;
    if (!deployment || !usage || outcome.failure !== undefined) return;
    const body = events.filter((e) => e.event.case !== "started" && e.event.case !== "finished");
    if (answerBytes(body) > MAX_CACHED_BYTES) return;
    const storedAt = now();
    const kept: CachedAnswer = { events: body, deployment, usage, usageEstimated: outcome.usageEstimated, storedAt, expiresAt: storedAt + use.ttlMs };
    cache.set(use.key, kept, use.maxEntries);
    shared?.put(use.key, kept);
  };
  if (!(Symbol.asyncIterator in answer)) {
    keep(answer);
    return answer;
  }
  return new RecordedStream(answer[Symbol.asyncIterator](), keep);
}

/**
 * A stream passed on as it is, its events noted and handed to `whole` if it
 * is read to its end; one grown past what the cache keeps is no longer noted.
 */
class RecordedStream implements AsyncIterableIterator<CallEvent> {
  private seen: CallEvent[] | undefined = [];
  private bytes = 0;

  constructor(
    private readonly inner: AsyncIterator<CallEvent>,
    private readonly whole: (events: readonly CallEvent[]) => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<CallEvent>> {
    return this.inner.next().then((result) => {
      if (!this.seen) return result;
      if (result.done === true) {
        this.whole(this.seen);
        return result;
      }
      this.bytes += answerBytes([result.value]);
      if (this.bytes > MAX_CACHED_BYTES) this.seen = undefined;
      else this.seen.push(result.value);
      return result;
    });
  }

  return(): Promise<IteratorResult<CallEvent>> {
    return this.inner.return?.() ?? Promise.resolve({ done: true, value: undefined });
  }
}
