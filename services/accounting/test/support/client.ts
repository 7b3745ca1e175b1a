import { createClient, createRouterTransport, type Client, type ConnectRouter } from "@connectrpc/connect";
import { hashKey } from "@gateway/common";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import type { Ledger, SpendReports } from "../../src/index.js";
import { accountingRoutes, createAccountingService } from "../../src/index.js";

export const MASTER_KEY = "sk-master-accounting-test-0123";

/**
 * A client of an accounting service whose master key is MASTER_KEY; its
 * calls carry `key` (the master key unless told otherwise, as the edge's do;
 * "" for none).
 */
export function accountingClient(deps: { ledger: Ledger; reports: SpendReports }, key = MASTER_KEY): Client<typeof AccountingService> {
  return clientOf(accountingRoutes(createAccountingService({ ledger: deps.ledger, reports: deps.reports, masterKeyHash: hashKey(MASTER_KEY) })), key);
}

/** A client of the accounting service these routes serve, its calls carrying `key` ("" for none). */
export function clientOf(routes: (router: ConnectRouter) => ConnectRouter, key = MASTER_KEY): Client<typeof AccountingService> {
  const transport = createRouterTransport(routes, {
    transport: {
      interceptors: [
        (next) => (req) => {
          if (key !== "") req.header.set("authorization", `Bearer ${key}`);
          return next(req);
        },
      ],
    },
  });
  return createClient(AccountingService, transport);
}
