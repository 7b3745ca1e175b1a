import { Code, ConnectError, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { AccountingService, type ListSpendLogsRequest } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { MAX_LIST_LIMIT, type Ledger, type SpendLogFilters } from "./ledger.js";

// The latest instant a JavaScript Date (and so a ledger query) can hold.
const MAX_DATE_MS = 8.64e15;

export function createAccountingService(deps: { ledger: Ledger }): ServiceImpl<typeof AccountingService> {
  return {
    async listSpendLogs(request) {
      return { logs: await deps.ledger.list(spendLogFilters(request)) };
    },
    async keySpend(request) {
      // Each key hash is one query parameter; the cap keeps a request well inside Postgres' limit.
      if (request.keyHashes.length > MAX_LIST_LIMIT) {
        throw new ConnectError(`at most ${MAX_LIST_LIMIT} key hashes per request`, Code.InvalidArgument);
      }
      return { spend: Object.fromEntries(await deps.ledger.spendByKey(request.keyHashes)) };
    },
  };
}

export function accountingRoutes(impl: ServiceImpl<typeof AccountingService>) {
  return (router: ConnectRouter): ConnectRouter => router.service(AccountingService, impl);
}

/** The request's filters, where proto3's zero values mean "not given". */
function spendLogFilters(request: ListSpendLogsRequest): SpendLogFilters {
  const startMs = timeBound("start_ms", request.startMs);
  const endMs = timeBound("end_ms", request.endMs);
  if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
    throw new ConnectError("start_ms is after end_ms", Code.InvalidArgument);
  }
  // A silently shortened page would read as the end of the logs.
  if (request.limit > MAX_LIST_LIMIT) {
    throw new ConnectError(`limit is at most ${MAX_LIST_LIMIT}`, Code.InvalidArgument);
  }
  return {
    ...(request.keyHash !== "" && { keyHash: request.keyHash }),
    ...(request.requestId !== "" && { requestId: request.requestId }),
    ...(request.userId !== "" && { userId: request.userId }),
    ...(startMs !== undefined && { startMs }),
    ...(endMs !== undefined && { endMs }),
    ...(request.limit !== 0 && { limit: request.limit }),
    offset: request.offset,
  };
}

function timeBound(name: string, ms: bigint): number | undefined {
  if (ms === 0n) return undefined;
  if (ms < 0n || ms > MAX_DATE_MS) throw new ConnectError(`${name} is not a valid unix time in milliseconds`, Code.InvalidArgument);
  return Number(ms);
}
