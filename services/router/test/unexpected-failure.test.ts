import { createClient, createRouterTransport } from "@connectrpc/connect";
import { createLogger, directClient } from "@gateway/common";
import { CallType, RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { describe, expect, it } from "vitest";
import type { RouterBudgets } from "../src/budgets.js";
import type { LiveModelList } from "../src/model-list.js";
import { ResponseCache } from "../src/response-cache.js";
import { createRouterService, routerRoutes } from "../src/service.js";
import type { UsagePublisher } from "../src/usage-publisher.js";
import { readAll } from "./support/read-all.js";

// A bug in the router (here, a model table that throws a TypeError) reaches the
// caller as an internal error. Over the network the caller hears only its
// message, so the router logs the stack; in one process the edge has the
// error itself and logs it, so the router does not log it twice.

const logged: { level: number; msg: string; requestId?: string; err?: string; stack?: string }[] = [];
const published: { requestId: string; errorType: string }[] = [];
const impl = createRouterService({
  models: {
    table: () => {
      throw new TypeError("Cannot read properties of undefined (reading 'groups')");
    },
  } as unknown as LiveModelList,
  store: undefined,
  state: {} as never,
  publisher: { storePrompts: false, bookEndUsers: true, publish: (event: { requestId: string; errorType: string }) => published.push(event) } as unknown as UsagePublisher,
  logger: createLogger("router-test", "info", { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) }),
  masterKeyHash: undefined,
  settleReservation: () => {},
  cache: new ResponseCache(),
  budgets: {} as RouterBudgets,
  forgetCached: async () => {},
});

const request = (requestId: string) => ({
  requestId,
  callType: CallType.CHAT_COMPLETIONS,
  body: new TextEncoder().encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] })),
});

describe("a call that fails in a way the router did not expect", () => {
  it("is logged with its stack when the caller is across the network", async () => {
    const client = createClient(RouterService, createRouterTransport(routerRoutes(impl)));
    await expect(readAll(client.complete(request("split-1")))).rejects.toThrow();
    const line = logged.find((l) => l.requestId === "split-1");
    expect(line).toMatchObject({ level: 50, msg: "call failed unexpectedly", err: "Cannot read properties of undefined (reading 'groups')" });
    expect(line?.stack).toMatch(/^TypeError: Cannot read properties of undefined[^]*\n\s+at /);
    // And booked as a failure, as every call is.
    expect(published.find((e) => e.requestId === "split-1")?.errorType).toBe("Unknown");
  });

  it("is left to the caller to log in one process", async () => {
    const client = directClient(RouterService, impl);
    await expect(readAll(client.complete(request("direct-1")))).rejects.toMatchObject({ cause: expect.any(TypeError) });
    expect(logged.filter((l) => l.requestId === "direct-1")).toEqual([]);
    expect(published.find((e) => e.requestId === "direct-1")).toBeDefined();
  });
});
