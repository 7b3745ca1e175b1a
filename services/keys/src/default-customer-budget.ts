import type { Entry, Logger } from "@gateway/common";
import type { AllowanceStore } from "./allowance-store.js";
import type { BudgetRow, BudgetStore } from "./budget-store.js";
import { budgetPeriod, holdsLimits, limitHolder, type LimitHolder } from "./limit-holder.js";

// An end user's allowances under the default budget: its own, whether or not a customer row names it.
const SUFFIX = "@default";
const allowanceIdOf = (endUser: string) => `customer/${endUser}${SUFFIX}`;
// Every end user's: no customer's (theirs end in a creation time) nor any other holder's.
const EVERY_END_USER = `customer/%${SUFFIX}`;

/**
 * The default budget's change (`before`, `after`; no `before` for its
 * creation), in its transaction (`allowances`), as carrySpend makes a
 * customer's own: a new budget_duration moves every end user's budget to
 * its new window, with what each spent and what its requests in flight
 * will; a max_budget where there was none starts each end user's window
 * from what the edge read it had spent (`spendBefore`, by end user), so one
 * already past the new budget is refused. An end user with limits of its
 * own is carried too: its own budget's windows are others, and this one
 * counts only once it falls back to the default. Returns the window so
 * started, for the end users `spendBefore` had no room for
 * (carryEndUserSpend).
 */
export async function carryDefaultCustomerSpend(allowances: AllowanceStore, before: BudgetRow | undefined, after: BudgetRow, spendBefore: readonly Entry<number>[], now = Date.now()): Promise<number | undefined> {
  if (after.maxBudget === null) return undefined;
  const to = budgetPeriod(limitHolder(after.budgetId, "", "customer", after), now).start;
  if (before && before.maxBudget !== null) {
    const from = budgetPeriod(limitHolder(before.budgetId, "", "customer", before), now).start;
    if (from !== to) await allowances.moveEverySpend(EVERY_END_USER, "budget", from, to);
    return undefined;
  }
  await carryEndUserSpend(allowances, to, spendBefore);
  return to;
}

/** Starts each end user's default-budget window `windowStart` from what it had spent (`spent`, by end user). */
export async function carryEndUserSpend(allowances: AllowanceStore, windowStart: number, spent: readonly Entry<number>[]): Promise<void> {
  const carried = spent.filter(({ value }) => value > 0);
  await allowances.carryEverySpend(carried.map(({ key: endUser, value: dollars }) => ({ ref: { keyId: allowanceIdOf(endUser), kind: "budget", windowStart }, dollars })));
}

/**
 * What every end user a request names is held to when it has no limits of
 * its own (no customer row, or one without limits or a budget_id), each end
 * user on its own: litellm_settings.max_end_user_budget_id's budget, read
 * again whenever the customers are (a budget's change reloads them), or
 * else max_end_user_budget's dollars, for good.
 */
export class DefaultCustomerBudget {
  /** The budget's limits, parsed once a load; null while there is no such budget or it sets none. */
  private limits: LimitHolder | null = null;
  private missingSaid = false;
  // Loads are numbered as they start, and one applies only where no
  // later-started load has: the customers' 30 s resync reads the budget
  // too, and one that read it before a change and answered after the
  // change's own reload put the budget back as it was until the next.
  private loads = 0;
  private appliedLoad = 0;

  private constructor(
    private readonly budgetId: string | undefined,
    private readonly store: BudgetStore,
    private readonly logger: Logger,
  ) {}

  /** The config's default for end users; undefined when it sets none. */
  static fromConfig(settings: { max_end_user_budget_id?: string | undefined; max_end_user_budget?: number | undefined }, store: BudgetStore, logger: Logger): DefaultCustomerBudget | undefined {
    const { max_end_user_budget_id: budgetId, max_end_user_budget: dollars } = settings;
    if (budgetId !== undefined) return new DefaultCustomerBudget(budgetId, store, logger);
    if (dollars === undefined) return undefined;
    const fixed = new DefaultCustomerBudget(undefined, store, logger);
    fixed.limits = { id: "", allowanceId: "", what: "customer", maxBudget: dollars, budgetDuration: null, createdAtMs: 0, rpmLimit: null, tpmLimit: null, maxParallelRequests: null };
    return fixed;
  }

  async load(): Promise<void> {
    if (this.budgetId === undefined) return;
    const load = ++this.loads;
    const [budget] = await this.store.byIds([this.budgetId]);
    if (load < this.appliedLoad) return;
    this.appliedLoad = load;
    // A template: each end user's id and allowances are put in per request.
    const limits = budget && limitHolder(this.budgetId, "", "customer", budget);
    this.limits = limits && holdsLimits(limits) ? limits : null;
    if (budget || this.missingSaid) return;
    this.missingSaid = true;
    this.logger.warn({ budgetId: this.budgetId }, "litellm_settings.max_end_user_budget_id names no budget yet: end users are held to none until /budget/new makes it");
  }

  /**
   * The budget's limits for `endUser`, under allowances of the end user's own
   * (whether or not a customer row names it; periods run from the budget's
   * creation); null without a budget that sets any.
   */
  limitsFor(endUser: string): LimitHolder | null {
    const limits = this.limits;
    return limits && { ...limits, id: endUser, allowanceId: allowanceIdOf(endUser) };
  }
}
