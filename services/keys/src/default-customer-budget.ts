import type { Logger } from "@gateway/common";
import type { BudgetStore } from "./budget-store.js";
import { holdsLimits, limitHolder, type LimitHolder } from "./limit-holder.js";

/**
 * litellm_settings.max_end_user_budget_id: the budget every end user a
 * request names is held to when it has no limits of its own (no customer
 * row, or one without limits or a budget_id), each end user on its own.
 * Read again whenever the customers are (a budget's change reloads them).
 */
export class DefaultCustomerBudget {
  /** The budget's limits, parsed once a load; null while there is no such budget or it sets none. */
  private limits: LimitHolder | null = null;
  private missingSaid = false;

  constructor(
    private readonly budgetId: string,
    private readonly store: BudgetStore,
    private readonly logger: Logger,
  ) {}

  async load(): Promise<void> {
    const [budget] = await this.store.byIds([this.budgetId]);
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
    return limits && { ...limits, id: endUser, allowanceId: `customer/${endUser}@default` };
  }
}
