import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, metrics } from "@gateway/common";
import { RateLimitStateSchema, type RateLimitState } from "@gateway/proto/keys/v1/keys_pb.js";
import { NANO } from "./allowance-store.js";
import type { Allowances, Pool } from "./allowances.js";
import type { BudgetSpend } from "./budget-spend.js";
import { budgetPeriod, type KeyRecord } from "./key-record.js";

const MINUTE_MS = 60_000;
// A reservation whose Release never came (its edge died) is settled as if
// it used all it reserved, after the longest a request may take.
const ABANDONED_AFTER_MS = 15 * MINUTE_MS;

interface Held {
  pool: Pool;
  amount: number;
}

/** What one request holds until its Release. */
interface Reservation {
  parallel: Held | undefined;
  tokens: Held | undefined;
  budget: Held | undefined;
  at: number;
}

export interface Demand {
  /** Tokens the request is expected to use, for tpm. */
  tokens: number;
  /** Dollars it may cost at most, for the budget. */
  maxCost: number;
}

/** Counts a refusal by the limit that made it. */
function refused(limit: "parallel" | "rpm" | "tpm" | "budget", error: Error): Error {
  metrics.rateLimitRejection(limit);
  return error;
}

function rateLimited(message: string, pool: Pool, unit: "requests" | "tokens", now: number): Error {
  const retryAfter = Math.max(1, Math.ceil((pool.endsAt - now) / 1000));
  return gatewayError(message, Code.ResourceExhausted, {
    type: "rate_limit_error",
    code: "rate_limit_exceeded",
    headers: {
      "retry-after": String(retryAfter),
      [`x-ratelimit-limit-${unit}`]: String(pool.limit),
      [`x-ratelimit-remaining-${unit}`]: String(pool.remaining),
      [`x-ratelimit-reset-${unit}`]: `${retryAfter}s`,
    },
  });
}

/**
 * Per-key limits for model calls: parallel requests, requests and tokens per
 * minute, and the budget. Each is reserved before the call and settled or
 * released after it; see Allowances for how replicas share them.
 */
export class Limits {
  private readonly reservations = new Map<string, Reservation>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly allowances: Allowances,
    private readonly spend: BudgetSpend,
  ) {
    this.sweeper = setInterval(() => this.abandonStale(), MINUTE_MS);
    this.sweeper.unref();
  }

  static applies(key: KeyRecord): boolean {
    return key.maxParallelRequests !== null || key.rpmLimit !== null || key.tpmLimit !== null || key.maxBudget !== null;
  }

  /** Reserves what the request needs from each of the key's limits, or throws having reserved nothing. */
  async admit(key: KeyRecord, requestId: string, demand: Demand): Promise<RateLimitState> {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const held: Held[] = [];
    const take = async (pool: Pool, amount: number): Promise<boolean> => {
      const ok = this.allowances.tryReserve(pool, amount) || (await this.allowances.reserve(pool, amount));
      if (ok) held.push({ pool, amount });
      return ok;
    };
    const state = create(RateLimitStateSchema, { resetMs: minute + MINUTE_MS - now });
    const reservation: Reservation = { parallel: undefined, tokens: undefined, budget: undefined, at: now };
    try {
      if (key.maxParallelRequests !== null) {
        const pool = this.allowances.pool({ keyId: key.id, kind: "parallel", windowStart: 0 }, key.maxParallelRequests, Infinity);
        if (!(await take(pool, 1))) {
          throw refused("parallel", gatewayError(`max_parallel_requests (${key.maxParallelRequests}) reached for this key`, Code.ResourceExhausted, {
            type: "rate_limit_error",
            code: "rate_limit_exceeded",
            headers: { "retry-after": "1" },
          }));
        }
        reservation.parallel = held.at(-1);
      }
      if (key.rpmLimit !== null) {
        const pool = this.allowances.pool({ keyId: key.id, kind: "requests", windowStart: minute }, key.rpmLimit, minute + MINUTE_MS);
        if (!(await take(pool, 1))) throw refused("rpm", rateLimited(`rpm limit (${key.rpmLimit}) reached for this key`, pool, "requests", now));
        state.limitRequests = key.rpmLimit;
        state.remainingRequests = pool.remaining;
      }
      if (key.tpmLimit !== null) {
        const pool = this.allowances.pool({ keyId: key.id, kind: "tokens", windowStart: minute }, key.tpmLimit, minute + MINUTE_MS);
        const tokens = Math.min(Math.max(1, Math.ceil(demand.tokens)), key.tpmLimit);
        if (!(await take(pool, tokens))) throw refused("tpm", rateLimited(`tpm limit (${key.tpmLimit}) reached for this key`, pool, "tokens", now));
        reservation.tokens = held.at(-1);
        state.limitTokens = key.tpmLimit;
        state.remainingTokens = pool.remaining;
      }
      if (key.maxBudget !== null) {
        const period = budgetPeriod(key, now);
        const pool = this.allowances.pool({ keyId: key.id, kind: "budget", windowStart: period.start }, Math.floor(key.maxBudget * NANO), period.end);
        const maxCost = Math.ceil(demand.maxCost * NANO);
        if (!(await take(pool, maxCost))) throw refused("budget", await this.budgetExceeded(key.maxBudget, pool, maxCost));
        reservation.budget = held.at(-1);
      }
    } catch (err) {
      for (const h of held) this.allowances.release(h.pool, h.amount);
      throw err;
    }
    this.reservations.set(requestId, reservation);
    return state;
  }

  /** Frees the parallel slot and settles tokens and budget to what the request used. */
  settle(requestId: string, cost: number, totalTokens: number): void {
    const r = this.reservations.get(requestId);
    if (!r) return;
    this.reservations.delete(requestId);
    if (r.parallel) this.allowances.release(r.parallel.pool, r.parallel.amount);
    if (r.tokens) this.allowances.settle(r.tokens.pool, r.tokens.amount, totalTokens);
    if (r.budget) {
      this.allowances.settle(r.budget.pool, r.budget.amount, Math.ceil(cost * NANO));
      this.spend.add(r.budget.pool.ref, cost);
    }
  }

  /**
   * LiteLLM's budget refusal, whose start clients may match on; "current
   * cost" is the spend (as /key/info shows it), and what this replica's
   * requests in flight have reserved and this request may cost are told apart.
   */
  private async budgetExceeded(maxBudget: number, pool: Pool, maxCost: number): Promise<Error> {
    const [spend = 0] = await this.spend.of([pool.ref]);
    const reserved = pool.reserved > 0 ? ` (+${pool.reserved / NANO} reserved for requests in flight)` : "";
    return gatewayError(
      `Budget has been exceeded! Current cost: ${spend}${reserved}, Max budget: ${maxBudget}. This request may cost up to ${maxCost / NANO}.`,
      Code.FailedPrecondition,
      { type: "budget_exceeded", code: "400" },
    );
  }

  get inFlight(): number {
    return this.reservations.size;
  }

  /** Settles a reservation whose use nobody can tell, as if it used all it reserved: the budget's safe side. */
  settleAsReserved(requestId: string): void {
    const r = this.reservations.get(requestId);
    if (r) this.settle(requestId, (r.budget?.amount ?? 0) / NANO, r.tokens?.amount ?? 0);
  }

  private abandonStale(): void {
    const cutoff = Date.now() - ABANDONED_AFTER_MS;
    for (const [id, r] of this.reservations) {
      if (r.at < cutoff) this.settleAsReserved(id);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
