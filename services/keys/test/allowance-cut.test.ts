import { randomUUID } from "node:crypto";
import { Allowances, openDatabase, type Database } from "@gateway/common";
import { eventually, TcpProxy, type ProxiedConnection, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AllowanceStore, type AllowanceKind, type AllowanceRef } from "../src/allowance-store.js";
import { keysPostgres, logger } from "./support.js";

// The allowance store's connection to the real Postgres passes through a
// proxy that, when armed, cuts the connection of the next statement whose
// text holds the armed words, once Postgres has run and committed it and
// before its answer reaches the replica, as a network blip or a failover
// can: the replica sees only the connection close, and must neither make
// it again nor take it for not made.

let testDatabase: TestDatabase;
let database: Database;
let proxy: TcpProxy;
/** Words of the next statement whose answer is lost, if any. */
let armed: string | undefined;

beforeAll(async () => {
  testDatabase = await keysPostgres();
  const url = new URL(testDatabase.url);
  const watching = new WeakSet<ProxiedConnection>();
  proxy = await TcpProxy.start(
    { host: url.hostname, port: Number(url.port || 5432) },
    {
      fromClient: (bytes, connection) => {
        if (armed && bytes.includes(armed)) {
          armed = undefined;
          watching.add(connection);
        }
        connection.target.write(bytes);
      },
      // The statement's CommandComplete ("SELECT 1", "UPDATE 1"), sent once its transaction committed.
      fromTarget: (bytes, connection) => {
        if (watching.has(connection) && (bytes.includes("SELECT ") || bytes.includes("UPDATE "))) return connection.cut();
        connection.client.write(bytes);
      },
    },
  );
  database = await openDatabase({ url: proxy.urlTo(testDatabase.url), max: 1, connectTimeoutSeconds: 5 });
});
afterAll(async () => {
  await database?.close();
  await proxy?.close();
  await testDatabase?.drop();
});

/** A replica of its own (its own holder of parallel slots), on the proxied connection. */
const replica = () => {
  const store = new AllowanceStore(database.db, randomUUID());
  return { store, allowances: new Allowances(store, logger) };
};
const allowance = (kind: AllowanceKind): AllowanceRef => ({ keyId: randomUUID(), kind, windowStart: 0 });
const sweeps = () => new Promise((resolve) => setTimeout(resolve, 2_500));

describe("allowances whose statement's answer is lost", () => {
  it("gives back once a give-back Postgres made, so the store counts all that the replicas hold, for parallel slots as for budgets", async () => {
    for (const kind of ["parallel", "budget"] as const) {
      const r = allowance(kind);
      const [a, b] = [replica(), replica()];
      const [poolA, poolB] = [a.allowances.pool(r, 100, Infinity), b.allowances.pool(r, 100, Infinity)];
      expect(await b.allowances.reserve(poolB, 50)).toBe(true);
      expect(await a.allowances.reserve(poolA, 1)).toBe(true);
      expect(await a.store.total(r)).toBe(60);
      armed = "SET granted = GREATEST(0, granted -";
      a.allowances.release(poolA, 1);
      // Idle for a second, the replica gives its 10 back; the answer is lost, and the sweeps try again.
      await eventually("the give-back cut", async () => (armed === undefined ? true : undefined));
      await sweeps();
      expect(poolA.held).toBe(0);
      expect(await a.store.total(r)).toBe(50);
      await Promise.all([a.allowances.close(), b.allowances.close()]);
    }
  });

  it("charges once a charge Postgres made", async () => {
    const r = allowance("budget");
    const { store, allowances } = replica();
    const pool = allowances.pool(r, 100, Infinity);
    expect(await allowances.reserve(pool, 10)).toBe(true);
    armed = "charged AS (";
    // The request used 40 where it reserved 10: 30 charged past what the replica held.
    allowances.settle(pool, 10, 40);
    await eventually("the charge cut", async () => (armed === undefined ? true : undefined));
    await sweeps();
    expect(pool.held).toBe(40);
    expect(await store.total(r)).toBe(40);
    await allowances.close();
  });

  it("holds, and so gives back, what a take Postgres made took, though its request failed, for parallel slots as for budgets", async () => {
    for (const kind of ["parallel", "budget"] as const) {
      const r = allowance(kind);
      const { store, allowances } = replica();
      const pool = allowances.pool(r, 100, Infinity);
      armed = "taken AS (";
      await expect(allowances.reserve(pool, 1)).rejects.toThrow();
      expect(await store.total(r)).toBe(10);
      await eventually(`the ${kind} take given back`, async () => ((await store.total(r)) === 0 ? true : undefined), 5_000);
      expect(pool.held).toBe(0);
      await allowances.close();
    }
  });
});
