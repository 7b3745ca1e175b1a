import { toBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { createLogger, entryObject, openDatabase, type Database } from "@gateway/common";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { UsageEventSchema, UsageStatus, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startAccounting, USAGE_SUBJECT, type Accounting } from "../src/index.js";
import { clientOf, MASTER_KEY } from "./support/client.js";
import { usageEvent } from "./support/usage-events.js";

let testDatabase: TestDatabase;
let database: Database;
let testBus: TestBus;
let accounting: Accounting;
let client: Client<typeof AccountingService>;
beforeAll(async () => {
  testDatabase = await createTestDatabase();
  database = await openDatabase({ url: testDatabase.url, max: 2 });
  testBus = await createTestBus();
  accounting = await startAccounting({ database, bus: testBus.bus, logger: createLogger("accounting-test", "silent"), settings: { master_key: MASTER_KEY } });
  client = clientOf(accounting.routes);
});
afterAll(async () => {
  await accounting?.stop();
  await testBus?.close();
  await database?.close();
  await testDatabase?.drop();
});

function publish(event: UsageEvent, messageId = event.requestId): Promise<void> {
  // As the router does: the request id is the message id.
  return testBus.bus.publish(USAGE_SUBJECT, messageId, toBinary(UsageEventSchema, event));
}

function booked(requestId: string): Promise<UsageEvent> {
  return eventually(`${requestId} in the ledger`, async () => (await client.listSpendLogs({ requestId })).logs[0]);
}

test("usage events published on JetStream reach the ledger with every field intact", async () => {
  const failure = usageEvent({ keyHash: "e".repeat(64), endUser: "customer-e" });
  const success = usageEvent({ keyHash: "e".repeat(64), endUser: "customer-e", status: UsageStatus.SUCCESS, errorType: "", httpStatus: 200 });
  await publish(failure);
  await publish(success);
  expect(await booked(failure.requestId)).toEqual(failure);
  expect(await booked(success.requestId)).toEqual(success);
  expect(entryObject((await client.keySpend({ keyHashes: ["e".repeat(64)] })).spend)).toEqual({ ["e".repeat(64)]: failure.cost + success.cost });
  expect(entryObject((await client.keySpend({ endUsers: ["customer-e"] })).endUserSpend)).toEqual({ "customer-e": failure.cost + success.cost });
});

test("an event published twice, or replayed under another message id, is booked once", async () => {
  const keyHash = "f".repeat(64);
  const event = usageEvent({ keyHash });
  await publish(event);
  await publish(event);
  // A replay past JetStream's dedupe window: same event, new message id.
  await publish(event, `${event.requestId}-replay`);
  // Batches commit concurrently, so the marker says only that the others were delivered.
  const marker = usageEvent({ keyHash: "0".repeat(64) });
  await publish(marker);
  await booked(marker.requestId);
  await booked(event.requestId);
  const { logs } = await client.listSpendLogs({ keyHash });
  expect(logs).toEqual([event]);
  expect((await client.keySpend({ keyHashes: [keyHash] })).spend.find((e) => e.key === keyHash)?.value).toBe(event.cost);
});
