import type { RequestContext } from "../context.js";
import { asViewer, asMasterKey, sendJson } from "../http.js";
import { iso } from "./admin-request.js";

/**
 * GET /provider/budgets (master key): each provider budget
 * (router_settings.provider_budget_config) with its current period's spend
 * and when it resets, in LiteLLM's shape.
 */
export async function providerBudgets(ctx: RequestContext): Promise<void> {
  await asViewer(ctx);
  const { providers } = await ctx.options.peers.router.getProviderBudgets({}, asMasterKey(ctx));
  sendJson(ctx.res, 200, {
    providers: Object.fromEntries(
      providers.map((p) => [p.provider, { budget_limit: p.budgetLimit, time_period: p.timePeriod, spend: p.spend, budget_reset_at: iso(p.budgetResetAtMs) }]),
    ),
  });
}
