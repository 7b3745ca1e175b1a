import { and, desc, eq, gte, inArray, lte, sql, type SQL } from "drizzle-orm";
import type { Db } from "@gateway/common";
import type { UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { spendLogs } from "./db/schema.js";
import { toSpendLogRow, toUsageEvent } from "./spend-log.js";

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;

/** What ListSpendLogs may narrow by; an absent filter matches everything. */
export interface SpendLogFilters {
  keyHash?: string;
  requestId?: string;
  userId?: string;
  /** Inclusive bounds on start time, unix milliseconds. */
  startMs?: number;
  endMs?: number;
  /** At most MAX_LIST_LIMIT; DEFAULT_LIST_LIMIT when absent. */
  limit?: number;
  offset?: number;
}

/** The spend_logs table: usage events in, spend logs and totals out. */
export class Ledger {
  constructor(private readonly db: Db) {}

  /**
   * Books events in one statement. A request id already in the ledger (a
   * redelivery, a replay, a repeat within the batch) is left as first booked,
   * so booking is idempotent.
   */
  async record(events: UsageEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.insert(spendLogs).values(events.map(toSpendLogRow)).onConflictDoNothing({ target: spendLogs.requestId });
  }

  /** Newest first; request id breaks ties so pages never overlap. */
  async list(filters: SpendLogFilters): Promise<UsageEvent[]> {
    const where: SQL[] = [];
    if (filters.keyHash !== undefined) where.push(eq(spendLogs.keyHash, filters.keyHash));
    if (filters.requestId !== undefined) where.push(eq(spendLogs.requestId, filters.requestId));
    if (filters.userId !== undefined) where.push(eq(spendLogs.userId, filters.userId));
    if (filters.startMs !== undefined) where.push(gte(spendLogs.startTime, new Date(filters.startMs)));
    if (filters.endMs !== undefined) where.push(lte(spendLogs.startTime, new Date(filters.endMs)));
    const rows = await this.db
      .select()
      .from(spendLogs)
      .where(and(...where))
      .orderBy(desc(spendLogs.startTime), desc(spendLogs.requestId))
      .limit(filters.limit ?? DEFAULT_LIST_LIMIT)
      .offset(filters.offset ?? 0);
    return rows.map(toUsageEvent);
  }

  /** All-time spend per key hash; a key with no rows has spent 0. */
  async spendByKey(keyHashes: string[]): Promise<Map<string, number>> {
    const spend = new Map(keyHashes.map((keyHash) => [keyHash, 0]));
    if (keyHashes.length === 0) return spend;
    const rows = await this.db
      .select({ keyHash: spendLogs.keyHash, total: sql<number>`sum(${spendLogs.spend})`.mapWith(Number) })
      .from(spendLogs)
      .where(inArray(spendLogs.keyHash, keyHashes))
      .groupBy(spendLogs.keyHash);
    for (const row of rows) spend.set(row.keyHash, row.total);
    return spend;
  }
}
