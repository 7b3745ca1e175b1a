import { Allowances, type Logger, type Pool } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { AllowanceKind, AllowanceRef, DeploymentAllowanceStore } from "./db/deployment-allowance-store.js";

/**
 * Per-deployment rpm and tpm (litellm_params.rpm / tpm) held across every
 * router replica, for usage-based routing.
 */
export interface DeploymentLimits {
  /**
   * Takes one request and `tokens` tokens of the deployment's current
   * minute; false (nothing taken) when that would pass its rpm or tpm.
   * In memory unless this replica must take more allowance from Postgres.
   */
  admit(d: Deployment, tokens: number): boolean | Promise<boolean>;
  /**
   * The call whose admission began at `admittedAt` (unix ms, taken before
   * admit(): a minute turning during admit() then lets its unused tokens
   * lapse rather than go to a minute that never reserved them) ended:
   * `reserved` tokens were taken, `used` were really used.
   */
  settle(d: Deployment, reserved: number, used: number, admittedAt: number): void;
  /** Tokens the deployment has used this minute, as far as this replica knows (all replicas' when it has a tpm). */
  tokensUsed(d: Deployment): number;
}

const MINUTE_MS = 60_000;

const minuteOf = (now: number) => now - (now % MINUTE_MS);

/** What one call reserves of one of the deployment's limits. */
interface Reservation {
  pool: Pool<AllowanceRef>;
  amount: number;
}

/** The tokens this replica's calls used in one minute, of a deployment with no tpm (and so no pool to count them). */
interface MinuteTokens {
  start: number;
  used: number;
}

/**
 * Limits as leases from Postgres (Allowances, as for the keys' limits): one
 * pool per deployment, kind and minute, whose limit is the rpm or tpm and
 * which ends with the minute. A replica takes a tenth of a limit at a time
 * and admits calls from what it holds, so the sum over replicas never
 * passes the limit; unused leases go back after a second idle, and a
 * finished minute's leftovers lapse.
 */
export class SharedDeploymentLimits implements DeploymentLimits {
  private readonly allowances: Allowances<AllowanceRef>;
  /** By deployment id, the tokens used here this minute of deployments with no tpm: usage-based routing picks by them too. */
  private readonly untracked = new Map<string, MinuteTokens>();

  constructor(
    store: DeploymentAllowanceStore,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.allowances = new Allowances(store, logger, now);
  }

  admit(d: Deployment, tokens: number): boolean | Promise<boolean> {
    const start = minuteOf(this.now());
    const wanted = this.reservations(d, tokens, start);
    // Both kinds from memory, or neither: a call must not hold requests while it waits for tokens.
    if (!wanted.every(({ pool, amount }) => pool.free >= amount)) return this.take(d, tokens);
    for (const { pool, amount } of wanted) this.allowances.tryReserve(pool, amount);
    this.count(d, tokens, start);
    return true;
  }

  /** What admitting a call to `d` in the minute from `start` reserves: a request of its rpm, its tokens of its tpm. */
  private reservations(d: Deployment, tokens: number, start: number): Reservation[] {
    const wanted: Reservation[] = [];
    if (d.rpm !== undefined) wanted.push({ pool: this.pool(d, "requests", d.rpm, start), amount: 1 });
    if (d.tpm !== undefined) wanted.push({ pool: this.pool(d, "tokens", d.tpm, start), amount: tokens });
    return wanted;
  }

  private pool(d: Deployment, kind: AllowanceKind, limit: number, start: number): Pool<AllowanceRef> {
    return this.allowances.pool({ deploymentId: d.id, kind, windowStart: start }, limit, start + MINUTE_MS);
  }

  /**
   * admit() when this replica must take more from the store. A call whose
   * minute turned while the store answered gives back what it reserved and
   * is admitted in the new minute, as settle() expects.
   */
  private async take(d: Deployment, tokens: number): Promise<boolean> {
    for (;;) {
      const start = minuteOf(this.now());
      const reserved = await this.reserveAll(this.reservations(d, tokens, start));
      if (!reserved) return false;
      if (minuteOf(this.now()) === start) {
        this.count(d, tokens, start);
        return true;
      }
      this.release(reserved);
    }
  }

  /** Reserves each in turn; undefined when one has no room. Then, or when a take fails, what the others reserved is released. */
  private async reserveAll(wanted: readonly Reservation[]): Promise<Reservation[] | undefined> {
    const reserved: Reservation[] = [];
    try {
      for (const r of wanted) {
        if (!(await this.allowances.reserve(r.pool, r.amount))) return undefined;
        reserved.push(r);
      }
      return reserved;
    } finally {
      if (reserved.length < wanted.length) this.release(reserved);
    }
  }

  private release(reserved: readonly Reservation[]): void {
    for (const { pool, amount } of reserved) this.allowances.release(pool, amount);
  }

  /** Counts the tokens of a deployment with no tpm, used here in the minute from `start`. */
  private count(d: Deployment, tokens: number, start: number): void {
    if (d.tpm !== undefined) return;
    let minute = this.untracked.get(d.id);
    if (minute?.start !== start) {
      minute = { start, used: 0 };
      this.untracked.set(d.id, minute);
    }
    minute.used += tokens;
  }

  /**
   * Tokens used past the reservation are counted in the current minute
   * (charged to the store past what this replica holds); unused ones go
   * back to the pool they were reserved from, if that is the current
   * minute's still (under the same tpm, and holding as many reserved). A
   * call admitted in an earlier minute, or under a tpm since changed, has
   * its reservation lapse with its pool: given back to another, it would
   * let that one admit past its limit.
   */
  settle(d: Deployment, reserved: number, used: number, admittedAt: number): void {
    const start = minuteOf(this.now());
    const extra = used - reserved;
    const sameMinute = minuteOf(admittedAt) === start;
    if (d.tpm === undefined) {
      if (extra > 0 || sameMinute) this.count(d, extra, start);
      return;
    }
    const ref: AllowanceRef = { deploymentId: d.id, kind: "tokens", windowStart: start };
    const pool = this.allowances.find(ref);
    if (sameMinute && pool?.limit === d.tpm && pool.reserved >= reserved) this.allowances.settle(pool, reserved, used);
    else if (extra > 0) this.allowances.settle(pool ?? this.pool(d, "tokens", d.tpm, start), 0, extra);
  }

  tokensUsed(d: Deployment): number {
    const start = minuteOf(this.now());
    if (d.tpm === undefined) {
      const minute = this.untracked.get(d.id);
      return minute?.start === start ? minute.used : 0;
    }
    const pool = this.allowances.find({ deploymentId: d.id, kind: "tokens", windowStart: start });
    return pool ? pool.used + pool.others : 0;
  }

  /** Stops the sweeps and gives back everything held. */
  close(): Promise<void> {
    return this.allowances.close();
  }
}
