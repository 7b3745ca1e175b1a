import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, metrics, NANO, type Allowances, type BudgetSpend, type Pool } from "@gateway/common";
import { RateLimitStateSchema, type RateLimitState } from "@gateway/proto/keys/v1/keys_pb.js";
import type { AllowanceRef } from "./allowance-store.js";
import { budgetPeriod, type LimitHolder } from "./limit-holder.js";

const MINUTE_MS = 60_000;
// How often a stopping replica looks whether its requests in flight are all released.
const DRAIN_STEP_MS = 50;
// A reservation whose Release never came (its edge died) is settled as if
// it used all it reserved, after the longest a request may take.
const ABANDONED_AFTER_MS = 15 * MINUTE_MS;

interface Held {
  pool: Pool<AllowanceRef>;
  amount: number;
}

/** What one request holds until its Release, from each of its holders' limits. */
interface Reservation {
  parallel: Held[];
  tokens: Held[];
  budget: Held[];
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

function rateLimited(message: string, pool: Pool<AllowanceRef>, unit: "requests" | "tokens", now: number): Error {
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
 * The limits a model call is held to, those of its key and of the key's
 * team, user and end user, and of its tags (LimitHolder): parallel requests, requests and
 * tokens per minute, and the budget. Each is reserved before the call and
 * settled or released after it; see Allowances for how replicas share them.
 */
export class Limits {
  private readonly reservations = new Map<string, Reservation>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly allowances: Allowances<AllowanceRef>,
    private readonly spend: BudgetSpend<AllowanceRef>,
  ) {
    this.sweeper = setInterval(() => this.abandonStale(), MINUTE_MS);
    this.sweeper.unref();
  }

  /** Reserves what the request needs from each limit of each holder, or throws having reserved nothing. */
  async admit(holders: readonly LimitHolder[], requestId: string, demand: Demand): Promise<RateLimitState> {
    const now = Date.now();
    const minute = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const reservation: Reservation = { parallel: [], tokens: [], budget: [], at: now };
    // Taken for rpm: kept when the request runs, given back when a later limit refuses it.
    const taken: Held[] = [];
    const take = async (into: Held[] | undefined, pool: Pool<AllowanceRef>, amount: number): Promise<boolean> => {
      const ok = this.allowances.tryReserve(pool, amount) || (await this.allowances.reserve(pool, amount));
      if (ok) (into ?? taken).push({ pool, amount });
      return ok;
    };
    const state = create(RateLimitStateSchema, { resetMs: minute + MINUTE_MS - now });
    try {
      for (const h of holders) {
        const id = h.allowanceId;
        if (h.maxParallelRequests !== null) {
          const pool = this.allowances.pool({ keyId: id, kind: "parallel", windowStart: 0 }, h.maxParallelRequests, Infinity);
          if (!(await take(reservation.parallel, pool, 1))) {
            throw refused("parallel", gatewayError(`max_parallel_requests (${h.maxParallelRequests}) reached for this ${h.what}`, Code.ResourceExhausted, {
              type: "rate_limit_error",
              code: "rate_limit_exceeded",
              headers: { "retry-after": "1" },
            }));
          }
        }
        // The headers tell the tightest of the holders' limits.
        if (h.rpmLimit !== null) {
          const pool = this.allowances.pool({ keyId: id, kind: "requests", windowStart: minute }, h.rpmLimit, minute + MINUTE_MS);
          if (!(await take(undefined, pool, 1))) throw refused("rpm", rateLimited(`rpm limit (${h.rpmLimit}) reached for this ${h.what}`, pool, "requests", now));
          if (state.limitRequests === 0 || pool.remaining < state.remainingRequests) {
            state.limitRequests = h.rpmLimit;
            state.remainingRequests = pool.remaining;
          }
        }
        if (h.tpmLimit !== null) {
          const pool = this.allowances.pool({ keyId: id, kind: "tokens", windowStart: minute }, h.tpmLimit, minute + MINUTE_MS);
          const tokens = Math.min(Math.max(1, Math.ceil(demand.tokens)), h.tpmLimit);
          if (!(await take(reservation.tokens, pool, tokens))) throw refused("tpm", rateLimited(`tpm limit (${h.tpmLimit}) reached for this ${h.what}`, pool, "tokens", now));
          if (state.limitTokens === 0 || pool.remaining < state.remainingTokens) {
            state.limitTokens = h.tpmLimit;
            state.remainingTokens = pool.remaining;
          }
        }
        if (h.maxBudget !== null) {
          const period = budgetPeriod(h, now);
          const pool = this.allowances.pool({ keyId: id, kind: "budget", windowStart: period.start }, Math.floor(h.maxBudget * NANO), period.end);
          const maxCost = Math.ceil(demand.maxCost * NANO);
          if (!(await take(reservation.budget, pool, maxCost))) throw refused("budget", await this.budgetExceeded(h, pool, maxCost));
        }
      }
    } catch (err) {
      for (const held of [...taken, ...reservation.parallel, ...reservation.tokens, ...reservation.budget]) this.allowances.release(held.pool, held.amount);
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
    for (const held of r.parallel) this.allowances.release(held.pool, held.amount);
    for (const held of r.tokens) this.allowances.settle(held.pool, held.amount, totalTokens);
    for (const held of r.budget) {
      this.allowances.settle(held.pool, held.amount, Math.ceil(cost * NANO));
      this.spend.add(held.pool.ref, cost);
    }
  }

  /**
   * LiteLLM's budget refusals (a user's and an end user's have words of
   * their own), whose start clients may match on; the spend is what the
   * holder's /…/info shows, and what this replica's requests in flight have
   * reserved and this request may cost are told apart.
   */
  private async budgetExceeded(h: LimitHolder, pool: Pool<AllowanceRef>, maxCost: number): Promise<Error> {
    const [spend = 0] = await this.spend.of([pool.ref]);
    const reserved = pool.reserved > 0 ? ` (+${pool.reserved / NANO} reserved for requests in flight)` : "";
    const mayCost = `This request may cost up to ${maxCost / NANO}.`;
    const whose = { key: "", "key's model": `Model=${h.id} `, team: `Team=${h.id} `, "team's model": `Model=${h.id} `, "team member": `User=${h.id} `, organization: `Organization=${h.id} `, "organization member": `User=${h.id} `, user: `User=${h.id}`, customer: `End User=${h.id}`, tag: `Tag=${h.id} `, gateway: "" }[h.what];
    const message =
      h.what === "user" || h.what === "customer"
        ? `ExceededBudget: ${whose} over budget. Spend=${spend}${reserved}, Budget=${h.maxBudget}. ${mayCost}`
        : `Budget has been exceeded! ${whose}Current cost: ${spend}${reserved}, Max budget: ${h.maxBudget}. ${mayCost}`;
    return gatewayError(message, Code.FailedPrecondition, { type: "budget_exceeded", code: "400" });
  }

  get inFlight(): number {
    return this.reservations.size;
  }

  /** Settles a reservation whose use nobody can tell, as if it used all it reserved: the budget's safe side. */
  settleAsReserved(requestId: string): void {
    const r = this.reservations.get(requestId);
    if (!r) return;
    const most = (held: Held[]) => held.reduce((max, h) => Math.max(max, h.amount), 0);
    this.settle(requestId, most(r.budget) / NANO, most(r.tokens));
  }

  /**
   * Waits, until `deadline`, for every request in flight here to be
   * released (Releases that reach another replica still arrive over the
   * bus). What is left then is settled as if it used all it reserved, but
   * for its parallel slots, which stay taken: those calls may still run.
   * Whether everything was released.
   */
  async drain(deadline: number): Promise<boolean> {
    while (this.reservations.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, DRAIN_STEP_MS));
    if (this.reservations.size === 0) return true;
    for (const [id, r] of this.reservations) {
      r.parallel.length = 0;
      this.settleAsReserved(id);
    }
    return false;
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
