import type { MessageInitShape } from "@bufbuild/protobuf";
import { createLogger, directClient } from "@gateway/common";
import { CallType, RouterService } from "@gateway/proto/router/v1/router_pb.js";
import type { UsageEventSchema } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { expect, test } from "vitest";
import type { RouterBudgets } from "../src/budgets.js";
import type { LiveModelList } from "../src/model-list.js";
import { ResponseCache } from "../src/response-cache.js";
import { createRouterService } from "../src/service.js";
import type { UsagePublisher } from "../src/usage-publisher.js";
import { readAll } from "./support/read-all.js";

// Every call is booked, one refused before routing too (here, a body without a
// model): its usage event names who called, as the edge said.

const published: MessageInitShape<typeof UsageEventSchema>[] = [];
const client = directClient(
  RouterService,
  createRouterService({
    models: {} as LiveModelList,
    store: undefined,
    state: {} as never,
    publisher: { storePrompts: false, bookEndUsers: true, publish: (event: MessageInitShape<typeof UsageEventSchema>) => published.push(event) } as unknown as UsagePublisher,
    logger: createLogger("router-test", "silent"),
    masterKeyHash: undefined,
    settleReservation: () => {},
    cache: new ResponseCache(),
    budgets: {} as RouterBudgets,
    forgetCached: async () => {},
  }),
);

async function usageOf(requestId: string, endUser: string) {
  const request = {
    requestId,
    callType: CallType.CHAT_COMPLETIONS,
    body: new TextEncoder().encode("{}"),
    keyHash: "4f1c".padEnd(64, "0"),
    keyAlias: "ci-bot",
    userId: "user-1",
    teamId: "team-1",
    endUser,
  };
  await expect(readAll(client.complete(request))).rejects.toThrow("model is required");
  return published.find((e) => e.requestId === requestId);
}

test("the usage event carries the caller's key, user, team and end user", async () => {
  expect(await usageOf("who-1", "customer-42")).toMatchObject({
    keyHash: "4f1c".padEnd(64, "0"),
    keyAlias: "ci-bot",
    userId: "user-1",
    teamId: "team-1",
    endUser: "customer-42",
  });
  expect((await usageOf("who-2", ""))?.endUser).toBe("");
});

test("an end user is booked as its first 256 characters", async () => {
  expect((await usageOf("who-3", "c".repeat(300)))?.endUser).toBe("c".repeat(256));
});
