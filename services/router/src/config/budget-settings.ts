import { ConfigError, deploymentCostBound, parseDuration, type CostBound, type Duration, type GatewayConfig, type ModelEntry } from "@gateway/common";

/** One budget a deployment is held to: its provider's (router_settings.provider_budget_config) or its own (litellm_params.max_budget). */
export interface Budget {
  /** What its allowances are kept under: "provider/" + the provider, or "deployment/" + the deployment's id. */
  subject: string;
  /** How refusals name it: "provider openai", "deployment 3f2a…". */
  name: string;
  /** Dollars a period. */
  limit: number;
  /** As written ("1d"); "" for one period for good. */
  timePeriod: string;
  duration: Duration | undefined;
}

/** What the router holds a deployment to before it calls it: its budgets, and the most one request may cost there. */
export interface DeploymentBudgets {
  budgets: readonly Budget[];
  bound: CostBound;
}

function duration(value: string, where: string): Duration {
  try {
    return parseDuration(value, where);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** router_settings.provider_budget_config, by provider. */
export function providerBudgets(config: GatewayConfig): ReadonlyMap<string, Budget> {
  const budgets = new Map<string, Budget>();
  for (const [provider, b] of Object.entries(config.router_settings.provider_budget_config ?? {})) {
    const where = `router_settings.provider_budget_config.${provider}.time_period`;
    budgets.set(provider, { subject: `provider/${provider}`, name: `provider ${provider}`, limit: b.budget_limit, timePeriod: b.time_period, duration: duration(b.time_period, where) });
  }
  return budgets;
}

/** A deployment's budgets, its provider's first; undefined when it has none. */
export function deploymentBudgets(entry: ModelEntry, id: string, providerBudget: Budget | undefined, where: string): DeploymentBudgets | undefined {
  const p = entry.litellm_params;
  const budgets: Budget[] = providerBudget ? [providerBudget] : [];
  if (p.max_budget !== undefined) {
    const timePeriod = p.budget_duration ?? "";
    const own = timePeriod === "" ? undefined : duration(timePeriod, `${where}.litellm_params.budget_duration`);
    budgets.push({ subject: `deployment/${id}`, name: `deployment ${id}`, limit: p.max_budget, timePeriod, duration: own });
  }
  return budgets.length > 0 ? { budgets, bound: deploymentCostBound(entry) } : undefined;
}

/** Whether any deployment of this model list may be held to a budget. */
export function anyBudgets(config: GatewayConfig, runtime: readonly ModelEntry[]): boolean {
  if (Object.keys(config.router_settings.provider_budget_config ?? {}).length > 0) return true;
  return [...config.model_list, ...runtime].some((entry) => entry.litellm_params.max_budget !== undefined);
}
