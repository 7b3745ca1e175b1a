import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { NANO, openDatabase, rowsOf, type Database } from "@gateway/common";
import { eventually, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AllowanceStore, type AllowanceRef } from "../src/allowance-store.js";
import { keysPostgres } from "./support.js";

// A budget moves to another window in the transaction of the change that
// moved it (carrySpend), which holds the old window's row until it commits.
// A write to the old window that waits on that row goes on once the move
// commits, with a snapshot taken before it: it must still reach the window
// the move made, which that snapshot cannot see. On the Postgres server:
// PGlite has one connection, so nothing there waits on a row.

let testDatabase: TestDatabase;
let database: Database;
let store: AllowanceStore;
beforeAll(async () => {
  testDatabase = await keysPostgres();
  database = await openDatabase({ url: testDatabase.url });
  store = new AllowanceStore(database.db, randomUUID());
});
afterAll(async () => {
  await database?.close();
  await testDatabase?.drop();
});

const aWrite = () => ({ writer: randomUUID(), seq: 1 });

/** Whether a statement of this test's database waits on a lock another transaction holds. */
async function waitingOnALock(): Promise<true | undefined> {
  const [row] = rowsOf<{ waiting: boolean }>(
    await database.db.execute(sql`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock') AS waiting`),
  );
  return row?.waiting ? true : undefined;
}

/**
 * Runs `first` in a transaction held open until `second`, started after it,
 * waits on a row `first` holds; then commits `first` and awaits both.
 */
async function whileHeld(first: (held: AllowanceStore) => Promise<void>, second: () => Promise<unknown>): Promise<void> {
  let commit!: () => void;
  const committing = new Promise<void>((resolve) => (commit = resolve));
  let made!: () => void;
  const firstMade = new Promise<void>((resolve) => (made = resolve));
  const held = database.db.transaction(async (tx) => {
    await first(store.in(tx));
    made();
    await committing;
  });
  await firstMade;
  const waiting = second();
  await eventually("the second statement waiting on the first's row", waitingOnALock);
  commit();
  await Promise.all([held, waiting]);
}

/** A budget of two windows, the first taken from ($2) and spent in ($1.5). */
async function budget(): Promise<{ from: AllowanceRef; to: AllowanceRef }> {
  const keyId = randomUUID();
  const [from, to] = [{ keyId, kind: "budget" as const, windowStart: 1_000 }, { keyId, kind: "budget" as const, windowStart: 2_000 }];
  await store.take(from, 2 * NANO, 100 * NANO, randomUUID());
  await store.addSpend(from, 1.5, aWrite());
  return { from, to };
}

describe("a write to a budget window waiting on the window's move", () => {
  it("settles its spend in the window moved to too, once, however often it is tried", async () => {
    const { from, to } = await budget();
    const write = aWrite();
    await whileHeld(
      (held) => held.moveSpend(from, to.windowStart),
      () => store.addSpend(from, 0.25, write),
    );
    expect(await store.spend([from, to])).toEqual([1.75, 1.75]);
    await store.addSpend(from, 0.25, write);
    expect(await store.spend([from, to])).toEqual([1.75, 1.75]);
  });

  it("settles its spend in the newest window when the window it forwards to moves again", async () => {
    const { from, to } = await budget();
    const third = { ...to, windowStart: 3_000 };
    await store.moveSpend(from, to.windowStart);
    await whileHeld(
      (held) => held.moveSpend(to, third.windowStart),
      () => store.addSpend(from, 0.25, aWrite()),
    );
    expect(await store.spend([from, to, third])).toEqual([1.75, 1.5, 1.75]);
  });

  it("refuses its take, whose snapshot cannot see the window moved to", async () => {
    const { from, to } = await budget();
    let taken: number | undefined;
    await whileHeld(
      (held) => held.moveSpend(from, to.windowStart),
      async () => (taken = await store.take(from, 0.5 * NANO, 100 * NANO, randomUUID())),
    );
    expect(taken).toBeUndefined();
    expect([await store.total(from), await store.total(to)]).toEqual([2 * NANO, 2 * NANO]);
  });

  const grants = [
    { name: "charge", change: (from: AllowanceRef, op = randomUUID()) => store.charge(from, 0.125 * NANO, op), to: 2.125 * NANO },
    { name: "give-back", change: (from: AllowanceRef, op = randomUUID()) => store.giveBack(from, 0.25 * NANO, op), to: 1.75 * NANO },
  ];

  it.each(grants)("makes its $name in the window moved to too, once", async ({ change, to: granted }) => {
    const { from, to } = await budget();
    const op = randomUUID();
    await whileHeld(
      (held) => held.moveSpend(from, to.windowStart),
      () => change(from, op),
    );
    expect([await store.total(from), await store.total(to)]).toEqual([granted, granted]);
    await change(from, op);
    expect(await store.total(to)).toBe(granted);
  });
});

describe("a budget window's move waiting on a write to it", () => {
  it("starts the window moved to from the spend the write settled", async () => {
    const { from, to } = await budget();
    await whileHeld(
      (held) => held.addSpend(from, 0.25, aWrite()),
      () => store.moveSpend(from, to.windowStart),
    );
    expect(await store.spend([from, to])).toEqual([1.75, 1.75]);
  });

  it("starts the window moved to again from what a write forwarded to the one it moves from", async () => {
    const { from, to } = await budget();
    const third = { ...to, windowStart: 3_000 };
    await store.moveSpend(from, to.windowStart);
    await whileHeld(
      (held) => held.addSpend(from, 0.25, aWrite()),
      () => store.moveSpend(to, third.windowStart),
    );
    expect(await store.spend([from, to, third])).toEqual([1.75, 1.75, 1.75]);
  });
});

// A replica that has not yet heard of a budget's new period still takes
// from, and settles in, the window the budget moved from: where the
// holder had taken nothing there before the move, that must reach the
// window moved to all the same, or the new window misses what the
// replica admits in the meantime.
describe("a budget moved from a window it had taken nothing from", () => {
  const emptyBudget = () => {
    const keyId = randomUUID();
    return { from: { keyId, kind: "budget" as const, windowStart: 1_000 }, to: { keyId, kind: "budget" as const, windowStart: 2_000 } };
  };

  it("makes a later take, charge, give-back and spend there in the window moved to too", async () => {
    const { from, to } = emptyBudget();
    await store.moveSpend(from, to.windowStart);
    await store.take(from, 2 * NANO, 100 * NANO, randomUUID());
    await store.charge(from, 0.5 * NANO, randomUUID());
    await store.giveBack(from, 0.25 * NANO, randomUUID());
    await store.addSpend(from, 1.5, aWrite());
    expect(await store.total(to)).toBe(2.25 * NANO);
    expect(await store.spend([to])).toEqual([1.5]);
  });

  it("refuses a take waiting on the move, and makes the next in the window moved to", async () => {
    const { from, to } = emptyBudget();
    let taken: number | undefined;
    await whileHeld(
      (held) => held.moveSpend(from, to.windowStart),
      async () => (taken = await store.take(from, 2 * NANO, 100 * NANO, randomUUID())),
    );
    expect(taken).toBeUndefined();
    expect(await store.take(from, 2 * NANO, 100 * NANO, randomUUID())).toBe(2 * NANO);
    expect([await store.total(from), await store.total(to)]).toEqual([0, 2 * NANO]);
  });

  it("starts the window moved to from a first take the move waited on", async () => {
    const { from, to } = emptyBudget();
    await whileHeld(
      async (held) => void (await held.take(from, 2 * NANO, 100 * NANO, randomUUID())),
      () => store.moveSpend(from, to.windowStart),
    );
    expect(await store.total(to)).toBe(2 * NANO);
    await store.addSpend(from, 1.5, aWrite());
    expect(await store.spend([to])).toEqual([1.5]);
  });
});
