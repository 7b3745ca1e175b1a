import type { VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { budgetPeriod, toProto, toRecord, type KeyRow, type LimitHolder } from "../key-record.js";
import type { AdminDeps } from "./context.js";

/**
 * What each holder's current budget period has spent, the spend its budget
 * is held to (zero again when the period turns, as in LiteLLM); undefined
 * for a holder without a budget.
 */
export async function budgetSpend(deps: AdminDeps, holders: LimitHolder[], now: number): Promise<(number | undefined)[]> {
  const budgeted = holders.filter((h) => h.maxBudget !== null);
  const spend = await deps.spend.of(budgeted.map((h) => ({ keyId: h.allowanceId, kind: "budget", windowStart: budgetPeriod(h, now).start })));
  const byHolder = new Map(budgeted.map((h, i) => [h, spend[i]]));
  return holders.map((h) => byHolder.get(h));
}

/** Keys as management calls show them, a key with a budget with its budget period's spend. */
export async function keyViews(deps: AdminDeps, rows: KeyRow[], now = Date.now()): Promise<VirtualKey[]> {
  const spend = await budgetSpend(deps, rows.map(toRecord), now);
  return rows.map((row, i) => toProto(row, now, spend[i]));
}

export async function keyView(deps: AdminDeps, row: KeyRow): Promise<VirtualKey> {
  const [view] = await keyViews(deps, [row]);
  return view as VirtualKey;
}
