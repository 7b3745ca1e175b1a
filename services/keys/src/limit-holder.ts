import { parseDuration, periodAt, type Duration } from "@gateway/common";

/** What holds limits of its own (a key, a team, an organization, a user, a customer, a tag), as Limits reads them. */
export interface LimitHolder {
  id: string;
  /** Whose allowances these are: a key's id, or a team's, organization's, user's, customer's or tag's (their own ids or names and creation times). */
  allowanceId: string;
  /** How refusals name it. */
  what: "key" | "key's model" | "team" | "team's model" | "team member" | "organization" | "organization member" | "user" | "customer" | "tag" | "gateway";
  maxBudget: number | null;
  budgetDuration: Duration | null;
  createdAtMs: number;
  rpmLimit: number | null;
  tpmLimit: number | null;
  maxParallelRequests: number | null;
}

/** The limit columns keys, teams, users and customers share. */
export interface LimitColumns {
  maxBudget: number | null;
  budgetDuration: string;
  rpmLimit: number | null;
  tpmLimit: number | null;
  maxParallelRequests: number | null;
  createdAt: Date;
}

/** A row's limits as Limits reads them, parsed once when the row is loaded. */
export function limitHolder<W extends LimitHolder["what"]>(id: string, allowanceId: string, what: W, row: LimitColumns): LimitHolder & { what: W } {
  return {
    id,
    allowanceId,
    what,
    maxBudget: row.maxBudget,
    budgetDuration: row.budgetDuration ? parseDuration(row.budgetDuration, "budget_duration") : null,
    createdAtMs: row.createdAt.getTime(),
    rpmLimit: row.rpmLimit,
    tpmLimit: row.tpmLimit,
    maxParallelRequests: row.maxParallelRequests,
  };
}

/** Whether a holder sets any limit at all. */
export function holdsLimits(h: LimitHolder): boolean {
  return h.maxParallelRequests !== null || h.rpmLimit !== null || h.tpmLimit !== null || h.maxBudget !== null;
}

/** The budget period `now` falls in: periods of budget_duration run from the holder's creation; without one, a single period for good. */
export function budgetPeriod(holder: Pick<LimitHolder, "budgetDuration" | "createdAtMs">, now: number): { start: number; end: number } {
  return holder.budgetDuration === null ? { start: 0, end: Infinity } : periodAt(holder.createdAtMs, holder.budgetDuration, now);
}

/** A row's limits as management calls show them: the message fields keys, teams, users and customers share. */
export function limitFields(row: LimitColumns, holder: LimitHolder, now: number) {
  return {
    ...(row.maxBudget !== null && { maxBudget: row.maxBudget }),
    budgetDuration: row.budgetDuration,
    ...(holder.budgetDuration !== null && { budgetResetAtMs: BigInt(budgetPeriod(holder, now).end) }),
    ...(row.rpmLimit !== null && { rpmLimit: row.rpmLimit }),
    ...(row.tpmLimit !== null && { tpmLimit: row.tpmLimit }),
    ...(row.maxParallelRequests !== null && { maxParallelRequests: row.maxParallelRequests }),
  };
}
