import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { Allowances, openDatabase, rowsOf, type Database } from "@gateway/common";
import { eventually, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AllowanceStore, type AllowanceRef } from "../src/allowance-store.js";
import { ParallelHolders } from "../src/parallel-holders.js";
import { keysPostgres, logger } from "./support.js";

// Parallel slots have no window to end: a replica that dies holding some
// would keep them taken for good, unless the others give them back for it.

// On the Postgres server (the statements lean on its row locks and
// data-modifying WITH), as the replicas of a deployment share it.
let testDatabase: TestDatabase;
let database: Database;
beforeAll(async () => {
  testDatabase = await keysPostgres();
  database = await openDatabase({ url: testDatabase.url });
});
afterAll(async () => {
  await database?.close();
  await testDatabase?.drop();
});

// Renewed only when a test says so; taken for dead 150 ms after its last renewal.
const TIMES = { beatMs: 3_600_000, aliveForMs: 150 };

async function replica() {
  const holder = randomUUID();
  const store = new AllowanceStore(database.db, holder);
  const allowances = new Allowances(store, logger);
  const holders = new ParallelHolders(database.db, holder, allowances, logger, TIMES);
  await holders.start();
  return { holder, store, allowances, holders };
}

const slots = () => ({ keyId: randomUUID(), kind: "parallel" as const, windowStart: 0 });
const lapse = () => new Promise((resolve) => setTimeout(resolve, TIMES.aliveForMs + 50));
const parts = async (ref: AllowanceRef) =>
  rowsOf<{ held: number }>(await database.db.execute(sql`SELECT coalesce(sum(held), 0)::float8 AS held FROM keys.parallel_holds WHERE key_id = ${ref.keyId}`))[0]!.held;

describe("parallel slots of replicas taken for dead", () => {
  it("never grants more than the limit at once, and records each replica's part of the total", async () => {
    const replicas = await Promise.all([replica(), replica(), replica()]);
    const ref = slots();
    const granted = (await Promise.all(Array.from({ length: 30 }, (_, i) => replicas[i % 3]!.allowances.reserve(replicas[i % 3]!.allowances.pool(ref, 7, Infinity), 1)))).filter(Boolean).length;
    expect(granted).toBe(7);
    expect(await replicas[0]!.store.total(ref)).toBe(7);
    expect(await parts(ref)).toBe(7);
    for (const r of replicas) await r.holders.stop();
    expect(await replicas[0]!.store.total(ref)).toBe(0);
    expect(await parts(ref)).toBe(0);
  });

  it("takes and gives back one key's slots at once on one replica, every statement answered", async () => {
    const { store } = await replica();
    const ref = slots();
    expect(await store.take(ref, 40, 100, randomUUID())).toBe(40);
    // Takes and give-backs of the same key from one replica, in flight together (a burst while it gives back what it held unused).
    for (let round = 0; round < 10; round++) {
      const together = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store.take(ref, 1, 100, randomUUID()) : store.giveBack(ref, 1, randomUUID())));
      // Without one order of row locks, Postgres ended some as deadlocks.
      expect((await Promise.allSettled(together)).filter((r) => r.status === "rejected")).toEqual([]);
    }
    expect(await store.total(ref)).toBe(40);
    expect(await parts(ref)).toBe(40);
  });

  it("gives a dead replica's slots back once its row lapses, and lets a stalled one hold its requests' slots again", async () => {
    const [a, b] = [await replica(), await replica()];
    const ref = slots();
    const poolA = a.allowances.pool(ref, 3, Infinity);
    for (let i = 0; i < 3; i++) expect(await a.allowances.reserve(poolA, 1)).toBe(true);
    const poolB = b.allowances.pool(ref, 3, Infinity);
    expect(await b.allowances.reserve(poolB, 1)).toBe(false);

    // A stops renewing (killed); B renews and gives A's three back.
    await lapse();
    // B's refusal above stands for a quarter second (and B's row must not lapse too).
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.holders.beat();
    expect(await b.store.total(ref)).toBe(0);
    for (let i = 0; i < 3; i++) expect(await b.allowances.reserve(poolB, 1)).toBe(true);
    expect(await b.store.total(ref)).toBe(3);

    // A was only stalled, its requests still running. One finishes before A
    // notices: its slot was given back already, so the total stays.
    a.allowances.release(poolA, 1);
    await a.allowances.close();
    expect(await a.store.total(ref)).toBe(3);
    // A finds its row gone and holds the slots of its two requests again, so
    // the total tells the truth (five at once) and nothing more fits until some finish.
    await a.holders.beat();
    expect(await a.store.total(ref)).toBe(5);
    expect(await parts(ref)).toBe(5);
    expect(await b.allowances.reserve(poolB, 1)).toBe(false);
    // As they end, their slots go back rather than to A's next requests,
    // which take afresh within the limit: B holds all three, so none fits.
    for (let i = 0; i < 2; i++) a.allowances.release(poolA, 1);
    await eventually("A's two slots back", async () => ((await a.store.total(ref)) === 3 ? true : undefined));
    expect(await a.allowances.reserve(a.allowances.pool(ref, 3, Infinity), 1)).toBe(false);
    expect(await a.store.total(ref)).toBe(3);

    for (const r of [a, b]) await r.holders.stop();
    expect(await a.store.total(ref)).toBe(0);
  });

  it("gives back the parts of replicas that left no row at all", async () => {
    const ref = slots();
    await database.db.execute(sql`INSERT INTO keys.allowances (key_id, kind, window_start, granted) VALUES (${ref.keyId}, 'parallel', 0, 2)`);
    await database.db.execute(sql`INSERT INTO keys.parallel_holds (holder, key_id, held) VALUES ('gone-before-it-registered', ${ref.keyId}, 2)`);
    const r = await replica();
    await r.holders.beat();
    expect(await r.store.total(ref)).toBe(0);
    await r.holders.stop();
  });
});
