import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { entryList, gatewayError, requireMasterKey } from "@gateway/common";
import { AccountingService, SpendGroupBy, type ListSpendLogsRequest } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { ENTITY_TYPES, type EntityType } from "./db/schema.js";
import { MAX_LIST_LIMIT, type Ledger, type SpendLogFilters } from "./ledger.js";
import { DAY_MS, dayOf, isoDay } from "./partitions.js";
import type { DayRange, SpendGrouping, SpendReports, SpendTotalRow } from "./spend-reports.js";

// The latest instant a ledger query can name: Postgres reads ISO dates of four-digit years.
const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DEFAULT_TOP = 10;
// Daily activity: the days one call covers, and the rows it answers, at most.
const MAX_ACTIVITY_DAYS = 366;
const MAX_ACTIVITY_ROWS = 100_000;
// LiteLLM's top keys and models cover the last 30 days.
const DEFAULT_TOP_DAYS = 30;

const GROUPINGS: Partial<Record<SpendGroupBy, SpendGrouping>> = {
  [SpendGroupBy.UNSPECIFIED]: "team",
  [SpendGroupBy.TEAM]: "team",
  [SpendGroupBy.API_KEY]: "api_key",
  [SpendGroupBy.MODEL]: "model",
};

export interface AccountingServiceDeps {
  ledger: Ledger;
  reports: SpendReports;
  /** The master key's hash (hashKey): every call must carry the key, as the edge's spend routes ask; undefined refuses them. */
  masterKeyHash: string | undefined;
}

export function createAccountingService(deps: AccountingServiceDeps): ServiceImpl<typeof AccountingService> {
  // Spend is the master key's to read, whoever reaches this port.
  const admin =
    <I, O>(fn: (request: I) => Promise<O>) =>
    (request: I, ctx: HandlerContext): Promise<O> => {
      requireMasterKey(deps.masterKeyHash, ctx);
      return fn(request);
    };
  return {
    listSpendLogs: admin(async (request) => {
      return { logs: await deps.ledger.list(spendLogFilters(request)) };
    }),
    summarizeSpendLogs: admin(async (request) => {
      if (request.startMs === 0n || request.endMs === 0n) throw new ConnectError("start_ms and end_ms are required", Code.InvalidArgument);
      return { rows: await deps.ledger.spendByDay(spendLogFilters({ ...request, limit: 0, offset: 0 })) };
    }),
    keySpend: admin(async (request) => {
      // Each key hash, team id and end user is one query parameter; the cap keeps a request well inside Postgres' limit.
      if (request.keyHashes.length > MAX_LIST_LIMIT || request.teamIds.length > MAX_LIST_LIMIT || request.endUsers.length > MAX_LIST_LIMIT) {
        throw new ConnectError(`at most ${MAX_LIST_LIMIT} key hashes, ${MAX_LIST_LIMIT} team ids and ${MAX_LIST_LIMIT} end users per request`, Code.InvalidArgument);
      }
      const [spend, teamSpend, endUserSpend] = await Promise.all([
        deps.ledger.spendByKey(request.keyHashes),
        deps.ledger.spendByTeam(request.teamIds),
        deps.ledger.spendByEndUser(request.endUsers),
      ]);
      return { spend: entryList(spend), teamSpend: entryList(teamSpend), endUserSpend: entryList(endUserSpend) };
    }),
    spendReport: admin(async (request) => {
      if (request.startDate === "" || request.endDate === "") {
        throw badParam(request.startDate === "" ? "start_date" : "end_date", "start_date and end_date are required");
      }
      const grouping = GROUPINGS[request.groupBy];
      if (grouping === undefined) throw new ConnectError(`group_by ${request.groupBy} is not known`, Code.InvalidArgument);
      const rows = await deps.reports.report(dayRange(request.startDate, request.endDate), grouping);
      return { rows: rows.map(spendTotal) };
    }),
    topKeys: admin(async (request) => {
      const rows = await deps.reports.topKeys(recentDays(request.startDate, request.endDate), topLimit(request.limit));
      return { keys: rows.map(spendTotal) };
    }),
    topModels: admin(async (request) => {
      const rows = await deps.reports.topModels(recentDays(request.startDate, request.endDate), topLimit(request.limit));
      return { models: rows.map(spendTotal) };
    }),
    totalSpend: admin(async () => ({ spend: await deps.reports.total() })),
    dailyActivity: admin(async (request) => {
      const range = dayRange(request.startDate, request.endDate);
      if (Date.parse(range.endDay) - Date.parse(range.startDay) > MAX_ACTIVITY_DAYS * DAY_MS) {
        throw badParam("start_date", `start_date and end_date are at most ${MAX_ACTIVITY_DAYS} days apart`);
      }
      const { entityType } = request;
      if (entityType !== "" && !isEntityType(entityType)) throw new ConnectError(`entity_type must be one of ${ENTITY_TYPES.join(", ")}`, Code.InvalidArgument);
      // Named as the daily activity routes' query names them (the entities by their kind's).
      const lists: [string[], string][] = [
        [request.keyHashes, "key_hashes"],
        [request.teamIds, "team_ids"],
        [request.excludeTeamIds, "exclude_team_ids"],
        [request.entities, entityType === "tag" ? "tags" : "end_user_ids"],
      ];
      const tooLong = lists.find(([list]) => list.length > MAX_LIST_LIMIT);
      if (tooLong) throw badParam(tooLong[1], `at most ${MAX_LIST_LIMIT} key hashes, team ids and entities of each kind per request`);
      const rows = await deps.reports.dailyActivity(range, { ...request, entityType }, MAX_ACTIVITY_ROWS + 1);
      if (rows.length > MAX_ACTIVITY_ROWS) throw new ConnectError(`more than ${MAX_ACTIVITY_ROWS} rows: ask for fewer days, keys or teams`, Code.InvalidArgument);
      return { rows: rows.map(spendTotal) };
    }),
    tagSpend: admin(async (request) => {
      const bounds = timeBounds(request);
      const { startMs, endMs } = bounds;
      // Whole UTC days (or no bounds): the tag totals, which outlive the spend logs' retention and need no scan of them.
      const wholeDays = (startMs === undefined || startMs % DAY_MS === 0) && (endMs === undefined || (endMs + 1) % DAY_MS === 0);
      const rows = wholeDays
        ? await deps.reports.tagTotals({
            ...(startMs !== undefined && { startDay: isoDay(dayOf(startMs)) }),
            ...(endMs !== undefined && { endDay: isoDay(dayOf(endMs)) }),
          })
        : await deps.ledger.spendByTag(bounds);
      return { tags: rows.map((row) => ({ ...row, requests: BigInt(row.requests) })) };
    }),
    endUserSpend: admin(async (request) => {
      if (request.endUsers.length > MAX_LIST_LIMIT) throw new ConnectError(`at most ${MAX_LIST_LIMIT} end users per request`, Code.InvalidArgument);
      const rows = await deps.reports.endUserTotals(request.endUsers);
      return { endUsers: rows.map((row) => ({ endUser: row.entity, requests: BigInt(row.requests), spend: row.spend })) };
    }),
  };
}

const isEntityType = (type: string): type is EntityType => (ENTITY_TYPES as readonly string[]).includes(type);

function spendTotal(row: SpendTotalRow) {
  return {
    ...row,
    promptTokens: BigInt(row.promptTokens),
    completionTokens: BigInt(row.completionTokens),
    totalTokens: BigInt(row.totalTokens),
    requests: BigInt(row.requests),
    failedRequests: BigInt(row.failedRequests ?? 0),
    cacheReadInputTokens: BigInt(row.cacheReadInputTokens ?? 0),
    cacheCreationInputTokens: BigInt(row.cacheCreationInputTokens ?? 0),
  };
}

function topLimit(limit: number): number {
  if (limit > MAX_LIST_LIMIT) throw new ConnectError(`limit is at most ${MAX_LIST_LIMIT}`, Code.InvalidArgument);
  return limit || DEFAULT_TOP;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A parameter refused, named in the error, as the edge's own checks name theirs. */
const badParam = (param: string, message: string) => gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });

function checkedDay(name: string, value: string): string {
  // Date.parse accepts 2026-02-31; the round trip does not. Postgres's dates have no year 0000.
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!DAY.test(value) || Number.isNaN(ms) || isoDay(dayOf(ms)) !== value || value.startsWith("0000")) {
    throw badParam(name, `${name} is not a day in the form YYYY-MM-DD from 0001-01-01: ${value}`);
  }
  return value;
}

function dayRange(startDate: string, endDate: string): DayRange {
  const range = { startDay: checkedDay("start_date", startDate), endDay: checkedDay("end_date", endDate) };
  if (range.startDay > range.endDay) throw badParam("start_date", "start_date is after end_date");
  return range;
}

/** The given days, or where one is missing the last 30 days up to today. */
function recentDays(startDate: string, endDate: string): DayRange {
  const end = endDate === "" ? isoDay(dayOf(Date.now())) : checkedDay("end_date", endDate);
  const start = startDate === "" ? isoDay(dayOf(Date.parse(`${end}T00:00:00Z`)) - DEFAULT_TOP_DAYS) : startDate;
  return dayRange(start, end);
}

export function accountingRoutes(impl: ServiceImpl<typeof AccountingService>) {
  return (router: ConnectRouter): ConnectRouter => router.service(AccountingService, impl);
}

/** The request's filters, where proto3's zero values mean "not given". */
function spendLogFilters(request: Omit<ListSpendLogsRequest, "$typeName">): SpendLogFilters {
  const { startMs, endMs } = timeBounds(request);
  // A silently shortened page would read as the end of the logs.
  if (request.limit > MAX_LIST_LIMIT) {
    throw new ConnectError(`limit is at most ${MAX_LIST_LIMIT}`, Code.InvalidArgument);
  }
  return {
    ...(request.keyHash !== "" && { keyHash: request.keyHash }),
    ...(request.requestId !== "" && { requestId: request.requestId }),
    ...(request.userId !== "" && { userId: request.userId }),
    ...(request.sessionId !== "" && { sessionId: request.sessionId }),
    ...(startMs !== undefined && { startMs }),
    ...(endMs !== undefined && { endMs }),
    ...(request.limit !== 0 && { limit: request.limit }),
    offset: request.offset,
  };
}

/** The request's inclusive start time bounds; 0 leaves that end open. */
function timeBounds(request: { startMs: bigint; endMs: bigint }): Pick<SpendLogFilters, "startMs" | "endMs"> {
  const startMs = timeBound("start_ms", request.startMs);
  const endMs = timeBound("end_ms", request.endMs);
  if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
    throw new ConnectError("start_ms is after end_ms", Code.InvalidArgument);
  }
  return { ...(startMs !== undefined && { startMs }), ...(endMs !== undefined && { endMs }) };
}

function timeBound(name: string, ms: bigint): number | undefined {
  if (ms === 0n) return undefined;
  if (ms < 0n || ms > MAX_DATE_MS) throw new ConnectError(`${name} is not a valid unix time in milliseconds`, Code.InvalidArgument);
  return Number(ms);
}
