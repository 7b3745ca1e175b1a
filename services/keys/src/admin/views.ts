import type { Entry } from "@gateway/common";
import type { VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { toProto, toRecord, type KeyRow } from "../key-record.js";
import { budgetPeriod, type LimitHolder } from "../limit-holder.js";
import type { AdminDeps } from "./context.js";

/**
 * What each holder's current budget period has spent, the spend its budget
 * is held to (zero again when the period turns, as in LiteLLM); undefined
 * for a holder without a budget.
 */
async function budgetSpend(deps: AdminDeps, holders: LimitHolder[], now: number): Promise<(number | undefined)[]> {
  const budgeted = holders.filter((h) => h.maxBudget !== null);
  const spend = await deps.spend.of(budgeted.map((h) => ({ keyId: h.allowanceId, kind: "budget", windowStart: budgetPeriod(h, now).start })));
  const byHolder = new Map(budgeted.map((h, i) => [h, spend[i]]));
  return holders.map((h) => byHolder.get(h));
}

/** Rows (keys, teams, users, customers) as management calls show them, each with a budget with its budget period's spend. */
export async function viewsWithSpend<Row, View>(
  deps: AdminDeps,
  rows: Row[],
  holderOf: (row: Row) => LimitHolder,
  view: (row: Row, now: number, spend?: number) => View,
  now = Date.now(),
): Promise<View[]> {
  const spend = await budgetSpend(deps, rows.map(holderOf), now);
  return rows.map((row, i) => view(row, now, spend[i]));
}

/** What each member (of a team or an organization) with a budget there has spent, in its budget's period, by user_id. */
export async function spendOfMembers(deps: AdminDeps, members: ReadonlyMap<string, LimitHolder>, now = Date.now()): Promise<Entry<number>[]> {
  const budgeted = [...members].filter(([, limits]) => limits.maxBudget !== null);
  const spend = await deps.spend.of(budgeted.map(([, limits]) => ({ keyId: limits.allowanceId, kind: "budget", windowStart: budgetPeriod(limits, now).start })));
  return budgeted.map(([userId], i) => ({ key: userId, value: spend[i] ?? 0 }));
}

/** Keys as management calls show them; a key of a team in an organization belongs to that organization. */
export const keyViews = (deps: AdminDeps, rows: KeyRow[]): Promise<VirtualKey[]> =>
  viewsWithSpend(deps, rows, toRecord, (row, now, spend) => {
    const view = toProto(row, now, spend);
    if (view.organizationId === "" && row.teamId !== "") view.organizationId = deps.teams.get(row.teamId)?.organizationId ?? "";
    return view;
  });

export async function keyView(deps: AdminDeps, row: KeyRow): Promise<VirtualKey> {
  const [view] = await keyViews(deps, [row]);
  return view as VirtualKey;
}
