import { maxCostWithin, NANO, periodAt, type Allowances, type BudgetSpend, type Pool } from "@gateway/common";
import type { Budget } from "./config/budget-settings.js";
import type { Deployment } from "./config/deployment.js";
import type { BudgetRef } from "./db/budget-allowance-store.js";

/** What one call holds of one budget until it settles. */
export interface BudgetHold {
  pool: Pool<BudgetRef>;
  amount: number;
}

/** The budget a deployment did not fit, and when its period ends. */
export interface OverBudget {
  budget: Budget;
  endsAt: number;
}

/** A budget's current period as /provider/budgets shows it. */
export interface BudgetState {
  spend: number;
  /** Unix ms; undefined for a budget with one period for good. */
  resetAt: number | undefined;
}

// A call that holds nothing: every call to a deployment without budgets.
const NO_HOLDS: readonly BudgetHold[] = Object.freeze([]) as readonly BudgetHold[];

/**
 * Provider and deployment budgets, held across every router replica as the
 * keys service holds a key's: before a call, the most it may cost (the
 * deployment's prices, the body's bytes as tokens, its max_tokens) is
 * reserved from each of the deployment's budgets' current period, leased
 * from Postgres in chunks; after it, the reservation settles to what the call
 * cost. A deployment whose budget cannot take the reservation is passed
 * over, so the sum over replicas never passes a budget. Periods run from
 * the unix epoch (UTC days, calendar months).
 */
export class RouterBudgets {
  constructor(
    private readonly allowances: Allowances<BudgetRef>,
    private readonly spend: BudgetSpend<BudgetRef>,
    private readonly now: () => number = Date.now,
  ) {}

  private period(budget: Budget, now: number): { start: number; end: number } {
    return budget.duration ? periodAt(0, budget.duration, now) : { start: 0, end: Infinity };
  }

  private pool(budget: Budget, now: number): Pool<BudgetRef> {
    const { start, end } = this.period(budget, now);
    return this.allowances.pool({ subject: budget.subject, windowStart: start }, Math.floor(budget.limit * NANO), end);
  }

  /**
   * Reserves what a call to `d` may cost from each of its budgets: the holds
   * (none for a deployment without budgets), or the budget that had no room
   * (nothing held then).
   */
  async reserve(d: Deployment, promptBytes: number, maxTokens: number, answers: number): Promise<readonly BudgetHold[] | OverBudget> {
    if (!d.budgets) return NO_HOLDS;
    const now = this.now();
    const amount = Math.ceil(maxCostWithin(d.budgets.bound, promptBytes, maxTokens, answers) * NANO);
    const holds: BudgetHold[] = [];
    for (const budget of d.budgets.budgets) {
      const pool = this.pool(budget, now);
      if (!(this.allowances.tryReserve(pool, amount) || (await this.allowances.reserve(pool, amount)))) {
        this.release(holds);
        return { budget, endsAt: pool.endsAt };
      }
      holds.push({ pool, amount });
    }
    return holds;
  }

  /** Settles each hold to what the call cost (dollars). */
  settle(holds: readonly BudgetHold[], cost: number): void {
    for (const h of holds) {
      this.allowances.settle(h.pool, h.amount, Math.ceil(cost * NANO));
      this.spend.add(h.pool.ref, cost);
    }
  }

  /** Gives the holds back unused: the call was never made. */
  release(holds: readonly BudgetHold[]): void {
    for (const h of holds) this.allowances.release(h.pool, h.amount);
  }

  /** Each budget's current period: what it has spent (every replica's, up to a second late) and when it resets. */
  async state(budgets: readonly Budget[]): Promise<BudgetState[]> {
    const now = this.now();
    const periods = budgets.map((b) => this.period(b, now));
    const spend = await this.spend.of(budgets.map((b, i) => ({ subject: b.subject, windowStart: periods[i]!.start })));
    return budgets.map((_, i) => ({ spend: spend[i] ?? 0, resetAt: Number.isFinite(periods[i]!.end) ? periods[i]!.end : undefined }));
  }

  /** Gives back every unused lease and writes the spend not yet written. */
  async close(): Promise<void> {
    await this.allowances.close();
    await this.spend.close();
  }
}
