import type { BudgetSpend, BudgetState } from "@gateway/common";
import type { AllowanceRef } from "./allowance-store.js";
import { toRecord } from "./key-record.js";
import type { KeyStore } from "./key-store.js";
import { budgetPeriod, type LimitHolder } from "./limit-holder.js";

// The budgets of keys and teams as LiteLLM's Prometheus gauges show them,
// read when scraped: the keys with a budget from Postgres (keys are not all
// in memory), the teams from memory, and each one's current period's spend
// (this replica's settlements written first, other replicas' up to a second
// late).

interface Budgeted {
  kind: BudgetState["kind"];
  id: string;
  alias: string;
  holder: LimitHolder;
}

export async function budgetStates(store: KeyStore, teams: Iterable<LimitHolder & { alias: string }>, spend: BudgetSpend<AllowanceRef>, now = Date.now()): Promise<BudgetState[]> {
  const budgeted: Budgeted[] = (await store.budgeted()).map((row) => ({ kind: "key", id: row.keyHash, alias: row.keyAlias ?? "", holder: toRecord(row) }));
  for (const team of teams) if (team.maxBudget !== null) budgeted.push({ kind: "team", id: team.id, alias: team.alias, holder: team });
  const periods = budgeted.map(({ holder }) => budgetPeriod(holder, now));
  const spent = await spend.of(budgeted.map(({ holder }, i) => ({ keyId: holder.allowanceId, kind: "budget", windowStart: periods[i]!.start })));
  return budgeted.map(({ kind, id, alias, holder }, i) => ({
    kind,
    id,
    alias,
    maxBudget: holder.maxBudget!,
    spend: spent[i] ?? 0,
    resetsAtMs: Number.isFinite(periods[i]!.end) ? periods[i]!.end : undefined,
  }));
}
