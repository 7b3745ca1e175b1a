import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { Allowances, BudgetSpend, MemoryBus, createLogger, openDatabase, parseConfig, type Database } from "@gateway/common";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { createTestDatabase, StatementCuts, type TestDatabase } from "@gateway/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll } from "vitest";
import { AllowanceStore } from "../src/allowance-store.js";
import { allowances } from "../src/db/schema.js";
import { startKeys } from "../src/index.js";
import { Limits } from "../src/limits.js";
import { ReservationPricing } from "../src/reservation-pricing.js";

export const MASTER = "sk-master-unit-test-0123";
export const logger = createLogger("keys-test", "silent");
export const config = parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
general_settings:
  master_key: ${MASTER}
`);

/** Two model groups, one dear and one cheap, for tests of what a request may use and what it reserves. */
export const CHEAP_AND_DEAR = parseConfig(`
model_list:
  - model_name: cheap-model
    litellm_params: { model: openai/gpt-4o-mini }
  - model_name: dear-model
    litellm_params: { model: openai/gpt-4o }
general_settings:
  master_key: ${MASTER}
`);

/** One in-memory PGlite with the keys schema, shared by a test file. */
export async function keysDatabase(): Promise<Database> {
  const database = await openDatabase({});
  await database.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "keys");
  return database;
}

/** A database of its own on the Postgres server with the keys schema, for tests that need the server (or to reach it through a proxy); drop it after. */
export async function keysPostgres(): Promise<TestDatabase> {
  const testDatabase = await createTestDatabase();
  const database = await openDatabase({ url: testDatabase.url });
  await database.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "keys");
  await database.close();
  return testDatabase;
}

/**
 * A database of its own on the Postgres server with the keys schema (`max`
 * connections), reached through StatementCuts, made before the test file's
 * tests and dropped after: for tests that break a statement's connection.
 */
export function keysDatabaseBehindCuts(max?: number): { database: () => Database; cuts: () => StatementCuts } {
  let testDatabase: TestDatabase;
  let cuts: StatementCuts;
  let database: Database;
  beforeAll(async () => {
    testDatabase = await keysPostgres();
    cuts = await StatementCuts.inFrontOf(testDatabase.url);
    database = await openDatabase({ url: cuts.urlTo(testDatabase.url), connectTimeoutSeconds: 5, ...(max !== undefined && { max }) });
  });
  afterAll(async () => {
    await database?.close();
    await cuts?.close();
    await testDatabase?.drop();
  });
  return { database: () => database, cuts: () => cuts };
}

/** A keys service on keysDatabaseBehindCuts, started before the test file's tests and stopped after. */
export function keysServiceBehindCuts(): { client: () => KeysClient; cuts: () => StatementCuts; database: () => Database } {
  const { database, cuts } = keysDatabaseBehindCuts();
  let keys: Keys;
  beforeAll(async () => {
    keys = await startKeys({ config, database: database(), bus: new MemoryBus(), logger });
  });
  afterAll(async () => {
    await keys?.stop();
  });
  return { client: () => clientOf(keys), cuts, database };
}

export { MemoryBus };

export type Keys = Awaited<ReturnType<typeof startKeys>>;
export type KeysClient = Client<typeof KeysService>;

export const clientOf = (replica: Keys): KeysClient => createClient(KeysService, createRouterTransport(replica.routes));
export const asMaster = { headers: { authorization: `Bearer ${MASTER}` } };
// What Authorize reserves for one request of 10 prompt bytes and 10 tokens on fast-model (openai/gpt-4o-mini, priced).
export const RESERVATION = new ReservationPricing(config).maxCost("fast-model", 10, 10);

/**
 * A keys service (on `settings`, the shared config unless given) on a PGlite of the test file's own, started before its
 * tests and stopped after them: `client()` calls it; `replica()` starts
 * another on the same database and bus (`bus`), for the caller to stop;
 * `database()` is the database.
 */
export function keysService(settings = config): { client: () => KeysClient; replica: () => Promise<Keys>; bus: MemoryBus; database: () => Database } {
  let database: Database;
  let keys: Keys;
  const bus = new MemoryBus();
  beforeAll(async () => {
    database = await keysDatabase();
    keys = await startKeys({ config: settings, database, bus, logger });
  });
  afterAll(async () => {
    await keys.stop();
    await database.close();
  });
  return { client: () => clientOf(keys), replica: () => startKeys({ config: settings, database, bus, logger }), bus, database: () => database };
}

/** What the store counts as taken, by all replicas together, from an allowance's windows. */
export async function granted(database: Database, allowanceId: string): Promise<number> {
  const rows = await database.db.select({ granted: allowances.granted }).from(allowances).where(eq(allowances.keyId, allowanceId));
  return rows.reduce((sum, row) => sum + row.granted, 0);
}

/**
 * A keys replica's limits alone on `database` (its Limits, Allowances and
 * BudgetSpend, as startKeys makes them), its allowances on a clock stopped
 * at their making: nothing it holds is ever idle to its sweeps, so what it
 * holds unused goes back when the test stops it (as a replica stopping does),
 * and not before.
 */
export function heldReplica(database: Database): { limits: Limits; stop: () => Promise<void> } {
  const store = new AllowanceStore(database.db, randomUUID());
  const stoppedAt = Date.now();
  const allowances = new Allowances(store, logger, () => stoppedAt);
  const spend = new BudgetSpend(store, logger);
  const limits = new Limits(allowances, spend);
  return {
    limits,
    async stop() {
      limits.close();
      await allowances.close();
      await spend.close();
    },
  };
}

/** The error a call that must be refused fails with; throws when it succeeds or fails otherwise. */
export async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw new Error("expected a refusal");
  return err;
}
