import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, type Logger, type SharedStore, type StoreLimits } from "@gateway/common";
import { SharedAnswerSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { CacheForget } from "./service.js";
import type { ModelGroups } from "./config/model-groups.js";
import type { CachedAnswer } from "./response-cache.js";

/** The name of the store the answers are shared in. */
export const SHARED_ANSWERS_STORE = "answers";
/** The store keeps an answer at least this long, or the ttl configured when it opened if longer; an answer's own ttl still ends it sooner. */
const MIN_STORE_AGE_MS = 24 * 3600_000;
/** What the store holds at most, over every replica; past it the oldest answers go first. */
const SHARED_ANSWER_BYTES = 256 * 2 ** 20;

/**
 * The latest expiry kept, unix ms (JavaScript's last date): a ttl (the
 * request's cache.ttl, or the config's) may run past any int64, where
 * encoding the answer throws.
 */
const LAST_EXPIRY_MS = 8.64e15;

/** The store's limits when the cache's ttl is `ttlMs`. */
export function sharedAnswerLimits(ttlMs: number): StoreLimits {
  return { maxAgeMs: Math.max(MIN_STORE_AGE_MS, ttlMs), maxBytes: SHARED_ANSWER_BYTES };
}

/**
 * The response cache's answers as router replicas share them
 * (cache_params.type: redis), in a store on the bus: each replica still
 * answers from its own memory first and asks the store when that misses.
 * The store is opened when first used. A store that cannot be reached is a
 * miss (the provider answers) and is logged once until it works again.
 */
export class SharedAnswers {
  private store: Promise<SharedStore> | undefined;
  private failing = false;

  constructor(
    private readonly open: () => Promise<SharedStore>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an answer was ever shared or asked for here (what a delete must reach). */
  get opened(): boolean {
    return this.store !== undefined;
  }

  /** The answer shared under `key`, still fresh (and no older than `maxAgeMs`), from a deployment `groups` has. */
  async get(key: string, maxAgeMs: number | undefined, groups: ModelGroups): Promise<CachedAnswer | undefined> {
    let data: Uint8Array | undefined;
    try {
      data = await (await this.opening()).get(key);
      this.works();
    } catch (err) {
      this.failed(err, "read");
      return undefined;
    }
    if (!data) return undefined;
    let shared;
    try {
      shared = fromBinary(SharedAnswerSchema, data);
    } catch {
      return undefined;
    }
    const now = this.now();
    const storedAt = Number(shared.storedAt);
    const expiresAt = Number(shared.expiresAt);
    if (expiresAt <= now || (maxAgeMs !== undefined && now - storedAt > maxAgeMs)) return undefined;
    const deployment = groups.resolve(shared.modelGroup)?.deployments.find((d) => d.id === shared.deploymentId);
    if (!deployment) return undefined;
    const usage = {
      promptTokens: shared.promptTokens,
      completionTokens: shared.completionTokens,
      cachedTokens: shared.cachedTokens,
      cacheWriteTokens: shared.cacheWriteTokens,
      cacheWrite1hTokens: shared.cacheWrite1hTokens,
      ...(shared.webSearches !== undefined && { webSearches: shared.webSearches }),
      ...(shared.reportedCost !== undefined && { reportedCost: shared.reportedCost }),
      ...(shared.unitCost !== undefined && { unitCost: shared.unitCost }),
    };
    return { events: shared.events, deployment, usage, usageEstimated: shared.usageEstimated, storedAt, expiresAt };
  }

  /** Shares an answer kept under `key`; the caller does not wait. */
  put(key: string, answer: CachedAnswer): void {
    const { usage } = answer;
    const shared = create(SharedAnswerSchema, {
      events: [...answer.events],
      modelGroup: answer.deployment.modelGroup,
      deploymentId: answer.deployment.id,
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      cachedTokens: usage.cachedTokens,
      cacheWriteTokens: usage.cacheWriteTokens,
      cacheWrite1hTokens: usage.cacheWrite1hTokens,
      webSearches: usage.webSearches,
      reportedCost: usage.reportedCost,
      unitCost: usage.unitCost,
      usageEstimated: answer.usageEstimated,
      storedAt: BigInt(answer.storedAt),
      // Whole milliseconds: a ttl may be a fraction of one, which BigInt refuses (the request got a 500).
      expiresAt: BigInt(Math.min(Math.round(answer.expiresAt), LAST_EXPIRY_MS)),
    });
    this.opening()
      .then((store) => store.put(key, toBinary(SharedAnswerSchema, shared)))
      .then(
        () => this.works(),
        (err: unknown) => this.failed(err, "write"),
      );
  }

  /** Drops answers by key, or all of them, for every replica. */
  async forget({ keys, all }: CacheForget): Promise<void> {
    const store = await this.opening().catch(unreachable);
    await (all ? store.clear() : store.delete(keys)).catch(unreachable);
  }

  /** Throws when the store cannot be reached (for /cache/ping). */
  async ping(): Promise<void> {
    const store = await this.opening().catch(unreachable);
    await store.get("ping").catch(unreachable);
  }

  private opening(): Promise<SharedStore> {
    if (this.store) return this.store;
    const opening = this.open();
    this.store = opening;
    // One that failed to open is tried again on the next use.
    opening.catch(() => {
      if (this.store === opening) this.store = undefined;
    });
    return opening;
  }

  private works(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info("the shared response cache is reachable again");
  }

  private failed(err: unknown, what: string): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn({ err: (err as Error).message, failed: what }, "the shared response cache cannot be reached; answers are kept in this replica's memory meanwhile");
  }
}

function unreachable(err: unknown): never {
  throw gatewayError(`the shared response cache cannot be reached: ${(err as Error).message}`, Code.Unavailable, { type: "service_unavailable", status: 503 });
}
