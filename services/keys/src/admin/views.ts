import type { VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { budgetPeriod, toProto, toRecord, type KeyRow } from "../key-record.js";
import type { AdminDeps } from "./context.js";

/**
 * Keys as management calls show them. A key with a budget carries what its
 * current budget period has spent, the spend its budget is held to (and
 * zero again when the period turns, as in LiteLLM).
 */
export async function keyViews(deps: AdminDeps, rows: KeyRow[], now = Date.now()): Promise<VirtualKey[]> {
  const budgeted = rows.filter((row) => row.maxBudget !== null);
  const spend = await deps.spend.of(budgeted.map((row) => ({ keyId: row.id, kind: "budget", windowStart: budgetPeriod(toRecord(row), now).start })));
  const spendById = new Map(budgeted.map((row, i) => [row.id, spend[i]]));
  return rows.map((row) => toProto(row, now, spendById.get(row.id)));
}

export async function keyView(deps: AdminDeps, row: KeyRow): Promise<VirtualKey> {
  const [view] = await keyViews(deps, [row]);
  return view as VirtualKey;
}
