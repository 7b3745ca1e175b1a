import type { Entry } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asMasterKey } from "../http.js";
import { callOptions } from "./admin-request.js";

// What each end user has spent, for litellm_settings.max_end_user_budget_id's
// budget gaining a max_budget (/budget/new or /budget/update): the end users
// it holds are named by no row, so their spend comes from the ledger. At a
// million end users it is some 50 MB, past what a service takes in one
// message (max_request_size_mb, 32 by default, and 1 MiB more), so it goes
// in parts: the first in the change itself, carried in its transaction, the
// rest in CarryEndUserSpend calls after it.

/**
 * The bytes of end users' spend a message carries: half the 1 MiB a service
 * takes past max_request_size_mb, which leaves room for the rest of a budget
 * change (its customers' and organizations' spend) whatever that setting.
 */
const PART_BYTES = 2 ** 19;
// An entry's encoding besides its end user's id: field tags, lengths (at most 5 bytes each), the double.
const ENTRY_BYTES = 21;

/** `entries` in runs of at most `maxBytes` encoded (an entry larger than that on its own). */
export function inParts<T extends Entry<number>>(entries: readonly T[], maxBytes: number): T[][] {
  const parts: T[][] = [];
  let bytes = maxBytes;
  for (const entry of entries) {
    const size = Buffer.byteLength(entry.key) + ENTRY_BYTES;
    if (bytes + size > maxBytes) {
      parts.push([]);
      bytes = 0;
    }
    parts.at(-1)!.push(entry);
    bytes += size;
  }
  return parts;
}

/**
 * Every end user's spend the ledger has booked (all time, as /customer/info
 * shows one without a budget), in parts, when `budgetId` is the default
 * end-user budget and the change sets a max_budget; none otherwise.
 */
export async function endUserSpendParts(ctx: RequestContext, budgetId: string, setsMaxBudget: boolean): Promise<Entry<number>[][]> {
  if (budgetId !== ctx.options.defaultEndUserBudgetId || !setsMaxBudget) return [];
  const { endUsers } = await ctx.options.peers.accounting.endUserSpend({}, asMasterKey(ctx));
  const spent = endUsers.filter((e) => e.spend > 0).map((e) => ({ key: e.endUser, value: e.spend }));
  return inParts(spent, PART_BYTES);
}

/** The parts after the first, into the window the change started (its response's end_user_window_start_ms; none when it started none). */
export async function carryRest(ctx: RequestContext, windowStartMs: bigint | undefined, rest: readonly Entry<number>[][]): Promise<void> {
  if (windowStartMs === undefined) return;
  for (const part of rest) await ctx.options.peers.keys.carryEndUserSpend({ windowStartMs, endUserSpend: part }, callOptions(ctx));
}
