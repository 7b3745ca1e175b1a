import type { AddressInfo } from "node:net";
import { toBinary } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createLogger, ObjectIds } from "@gateway/common";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { CarryEndUserSpendRequestSchema, CreateBudgetRequestSchema, KeysService, type CarryEndUserSpendRequest, type CreateBudgetRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeServer, type EdgeServer } from "../src/index.js";

// The edge alone, in front of stand-in keys and accounting services: the
// default end-user budget made with a max_budget after many end users spent,
// more than one message to the keys service has room for.

const END_USERS = 30_000;
// Ids as long as a UUID: some 50 bytes an end user, 1.5 MB in all.
const endUsers = Array.from({ length: END_USERS }, (_, i) => ({ endUser: `end-user-${String(i).padStart(27, "0")}`, requests: 1n, spend: i + 1 }));
// The least a keys service takes: 1 MiB past max_request_size_mb.
const LEAST_MESSAGE_BYTES = 2 ** 20;
const WINDOW = 1_234n;

const created: CreateBudgetRequest[] = [];
const carried: CarryEndUserSpendRequest[] = [];

const transport = createRouterTransport((router) => {
  router.service(KeysService, {
    createBudget(req) {
      created.push(req);
      return { budget: { budgetId: req.budgetId, maxBudget: req.settings?.maxBudget, createdAtMs: 1n, updatedAtMs: 1n }, endUserWindowStartMs: WINDOW };
    },
    carryEndUserSpend(req) {
      carried.push(req);
      return {};
    },
  });
  router.service(AccountingService, { endUserSpend: () => ({ endUsers: [...endUsers, { endUser: "spent-nothing", requests: 1n, spend: 0 }] }) });
});

let edge: EdgeServer;
let base: string;

beforeAll(async () => {
  edge = createEdgeServer({
    peers: { keys: createClient(KeysService, transport), router: createClient(RouterService, transport), accounting: createClient(AccountingService, transport) },
    logger: createLogger("edge-test", "silent"),
    maxBodyBytes: 1024,
    metricsNeedAuth: false,
    objectIds: new ObjectIds("edge-test"),
    ready: () => true,
    defaultEndUserBudgetId: "default-tier",
  });
  await edge.listen(0, "127.0.0.1");
  base = `http://127.0.0.1:${(edge.server.address() as AddressInfo).port}`;
});
afterAll(() => edge.close(0));

describe("the end users' spend for the default end-user budget", () => {
  it("goes to the keys service in parts each a message has room for: the first in the budget's making, the rest into the window it started", async () => {
    const res = await fetch(`${base}/budget/new`, {
      method: "POST",
      headers: { authorization: "Bearer sk-master", "content-type": "application/json" },
      body: JSON.stringify({ budget_id: "default-tier", max_budget: 10 }),
    });
    expect(res.status).toBe(200);
    expect(created).toHaveLength(1);
    expect(carried.length).toBeGreaterThan(1);
    const sizes = [toBinary(CreateBudgetRequestSchema, created[0]!).length, ...carried.map((req) => toBinary(CarryEndUserSpendRequestSchema, req).length)];
    for (const size of sizes) expect(size).toBeLessThan(LEAST_MESSAGE_BYTES);
    for (const req of carried) expect(req.windowStartMs).toBe(WINDOW);
    // Each end user that spent, once; none that spent nothing.
    const sent = [...created[0]!.endUserSpendBefore, ...carried.flatMap((req) => req.endUserSpend)];
    expect(sent.map(({ key, value }) => ({ endUser: key, spend: value }))).toEqual(endUsers.map(({ endUser, spend }) => ({ endUser, spend })));
  });
});
