import { and, desc, eq, gte, inArray, lte, notInArray, sql, type SQL } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { dailyEntitySpend, dailySpend, type EntityType } from "./db/schema.js";
import type { TagSpendRow } from "./ledger.js";

export type SpendGrouping = "api_key" | "team" | "model";

/** Inclusive UTC days, "YYYY-MM-DD". */
export interface DayRange {
  startDay: string;
  endDay: string;
}

/** Spend and tokens of one group; day is "" when summed over the range. */
export interface SpendTotalRow {
  day: string;
  keyHash: string;
  keyAlias: string;
  teamId: string;
  modelGroup: string;
  spend: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  requests: number;
  /** Of the requests, those that failed (daily activity only). */
  failedRequests?: number;
  /** Of the prompt tokens, those read from and written to providers' prompt caches (daily activity only). */
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  /** The provider and its model name (daily activity only; '' in cells booked before they were kept). */
  provider?: string;
  model?: string;
  /** The request tag or end user (daily activity per entity only). */
  entity?: string;
}

/** Which cells daily activity sums; empty lists and "" leave a dimension open. */
/** What the ledger holds for one tag or end user: its requests and their cost. */
export interface EntitySpendRow {
  entity: string;
  requests: number;
  spend: number;
}

export interface ActivityFilter {
  keyHashes: readonly string[];
  teamIds: readonly string[];
  excludeTeamIds: readonly string[];
  modelGroup: string;
  /** "tag" or "end_user": rows per entity too, from their totals, narrowed to `entities` when given; "": per key only. */
  entityType: EntityType | "";
  entities: readonly string[];
}

const sums = {
  spend: sql<number>`sum(${dailySpend.spend})`.mapWith(Number),
  promptTokens: sql<number>`sum(${dailySpend.promptTokens})`.mapWith(Number),
  completionTokens: sql<number>`sum(${dailySpend.completionTokens})`.mapWith(Number),
  totalTokens: sql<number>`sum(${dailySpend.totalTokens})`.mapWith(Number),
  requests: sql<number>`sum(${dailySpend.requests})`.mapWith(Number),
};

// The alias of a key's most recent day in the range: aliases can change.
const latestAlias = sql<string>`(array_agg(${dailySpend.keyAlias} ORDER BY ${dailySpend.day} DESC))[1]`;

function inRange(range: DayRange): SQL | undefined {
  return and(gte(dailySpend.day, range.startDay), lte(dailySpend.day, range.endDay));
}

/** Spend reports, all read from the daily totals (never from the spend logs). */
export class SpendReports {
  constructor(private readonly db: Db) {}

  /**
   * "team": one row per day, team, key and model group (LiteLLM's report is
   * per day and team). "api_key" and "model": one row per key and model
   * group over the whole range; the caller nests them either way round.
   */
  async report(range: DayRange, grouping: SpendGrouping): Promise<SpendTotalRow[]> {
    if (grouping === "team") {
      const rows = await this.db
        .select({ day: dailySpend.day, keyHash: dailySpend.keyHash, keyAlias: latestAlias, teamId: dailySpend.teamId, modelGroup: dailySpend.modelGroup, ...sums })
        .from(dailySpend)
        .where(inRange(range))
        .groupBy(dailySpend.day, dailySpend.teamId, dailySpend.keyHash, dailySpend.modelGroup)
        .orderBy(dailySpend.day, dailySpend.teamId, dailySpend.keyHash, dailySpend.modelGroup);
      return rows;
    }
    const rows = await this.db
      .select({ keyHash: dailySpend.keyHash, keyAlias: latestAlias, modelGroup: dailySpend.modelGroup, ...sums })
      .from(dailySpend)
      .where(inRange(range))
      .groupBy(dailySpend.keyHash, dailySpend.modelGroup)
      .orderBy(desc(sums.spend), dailySpend.keyHash, dailySpend.modelGroup);
    return rows.map((row) => ({ ...row, day: "", teamId: "" }));
  }

  /**
   * One row per day, key, team, model group, provider and model (and entity, per entity) in
   * the range that the filter lets through, by day; at most `limit`.
   */
  async dailyActivity(range: DayRange, filter: ActivityFilter, limit: number): Promise<SpendTotalRow[]> {
    const { entityType } = filter;
    const t = entityType === "" ? dailySpend : dailyEntitySpend;
    const entity = entityType === "" ? sql<string>`''` : dailyEntitySpend.entity;
    return this.db
      .select({
        day: t.day,
        keyHash: t.keyHash,
        keyAlias: t.keyAlias,
        teamId: t.teamId,
        modelGroup: t.modelGroup,
        provider: t.provider,
        model: t.model,
        entity,
        spend: t.spend,
        promptTokens: t.promptTokens,
        completionTokens: t.completionTokens,
        totalTokens: t.totalTokens,
        cacheReadInputTokens: t.cacheReadInputTokens,
        cacheCreationInputTokens: t.cacheCreationInputTokens,
        requests: t.requests,
        failedRequests: t.failedRequests,
      })
      .from(t)
      .where(
        and(
          gte(t.day, range.startDay),
          lte(t.day, range.endDay),
          filter.keyHashes.length > 0 ? inArray(t.keyHash, [...filter.keyHashes]) : undefined,
          filter.teamIds.length > 0 ? inArray(t.teamId, [...filter.teamIds]) : undefined,
          filter.excludeTeamIds.length > 0 ? notInArray(t.teamId, [...filter.excludeTeamIds]) : undefined,
          filter.modelGroup !== "" ? eq(t.modelGroup, filter.modelGroup) : undefined,
          entityType === "" ? undefined : eq(dailyEntitySpend.entityType, entityType),
          entityType !== "" && filter.entities.length > 0 ? inArray(dailyEntitySpend.entity, [...filter.entities]) : undefined,
        ),
      )
      .orderBy(t.day, t.keyHash, t.teamId, t.modelGroup, t.provider, t.model, ...(entityType === "" ? [] : [dailyEntitySpend.entity]))
      .limit(limit);
  }

  /** Keys by spend over the range, highest first. */
  async topKeys(range: DayRange, limit: number): Promise<SpendTotalRow[]> {
    const rows = await this.db
      .select({ keyHash: dailySpend.keyHash, keyAlias: latestAlias, ...sums })
      .from(dailySpend)
      .where(inRange(range))
      .groupBy(dailySpend.keyHash)
      .orderBy(desc(sums.spend), dailySpend.keyHash)
      .limit(limit);
    return rows.map((row) => ({ ...row, day: "", teamId: "", modelGroup: "" }));
  }

  /** Spend and requests per request tag over the days given (none: all time), highest spend first (then by tag), from the entity totals. */
  async tagTotals(days: Partial<DayRange>): Promise<TagSpendRow[]> {
    return (await this.entityTotals("tag", days)).map(({ entity, ...row }) => ({ tag: entity, ...row }));
  }

  /** Spend and requests per end user named (none named: every one), all time, highest spend first (then by name), from the entity totals. */
  endUserTotals(endUsers: string[]): Promise<EntitySpendRow[]> {
    return this.entityTotals("end_user", {}, endUsers);
  }

  private entityTotals(entityType: EntityType, days: Partial<DayRange>, entities: string[] = []): Promise<EntitySpendRow[]> {
    const spend = sql<number>`sum(${dailyEntitySpend.spend})`.mapWith(Number);
    return this.db
      .select({ entity: dailyEntitySpend.entity, requests: sql<number>`sum(${dailyEntitySpend.requests})`.mapWith(Number), spend })
      .from(dailyEntitySpend)
      .where(
        and(
          eq(dailyEntitySpend.entityType, entityType),
          entities.length === 0 ? undefined : inArray(dailyEntitySpend.entity, entities),
          days.startDay === undefined ? undefined : gte(dailyEntitySpend.day, days.startDay),
          days.endDay === undefined ? undefined : lte(dailyEntitySpend.day, days.endDay),
        ),
      )
      .groupBy(dailyEntitySpend.entity)
      .orderBy(desc(spend), dailyEntitySpend.entity);
  }

  /** Dollars booked, all time (the daily aggregates outlive the spend logs' retention). */
  async total(): Promise<number> {
    const [row] = await this.db.select({ spend: sums.spend }).from(dailySpend);
    return row?.spend ?? 0;
  }

  /** Model groups by spend over the range, highest first. */
  async topModels(range: DayRange, limit: number): Promise<SpendTotalRow[]> {
    const rows = await this.db
      .select({ modelGroup: dailySpend.modelGroup, ...sums })
      .from(dailySpend)
      .where(inRange(range))
      .groupBy(dailySpend.modelGroup)
      .orderBy(desc(sums.spend), dailySpend.modelGroup)
      .limit(limit);
    return rows.map((row) => ({ ...row, day: "", keyHash: "", keyAlias: "", teamId: "" }));
  }
}
