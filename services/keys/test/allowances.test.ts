import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Allowances, createLogger, forgettingOps, NANO, type Database } from "@gateway/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, planWithoutSeqScans } from "@gateway/testing";
import { AllowanceStore, type AllowanceRef } from "../src/allowance-store.js";
import { allowanceOps } from "../src/db/schema.js";
import { keysDatabase, logger } from "./support.js";

let database: Database;
let store: AllowanceStore;

beforeAll(async () => {
  database = await keysDatabase();
  store = new AllowanceStore(database.db, randomUUID());
});
afterAll(() => database.close());

const ref = () => ({ keyId: randomUUID(), kind: "budget" as const, windowStart: 0 });
/** A spend write of a writer of its own: made whatever other writes were made. */
const aWrite = () => ({ writer: randomUUID(), seq: 1 });

/** The real store, whose give-backs and charges fail while `down` (Postgres gone when a replica gives back what it held, or charges what it used past it). */
class DownStore extends AllowanceStore {
  down = false;

  override async giveBack(r: AllowanceRef, amount: number, op: string): Promise<void> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.giveBack(r, amount, op);
  }

  override async charge(r: AllowanceRef, amount: number, op: string): Promise<void> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.charge(r, amount, op);
  }
}

/** The real store, counting the takes it is asked for. */
class CountingStore extends AllowanceStore {
  takes = 0;

  override async take(r: AllowanceRef, amount: number, limit: number, op: string): Promise<number | undefined> {
    this.takes += 1;
    return super.take(r, amount, limit, op);
  }
}

describe("allowances shared by replicas", () => {
  it("never grants more than the limit, however many replicas reserve at once", async () => {
    const replicas = [new Allowances(store, logger), new Allowances(store, logger), new Allowances(store, logger)];
    const r = ref();
    const attempts = Array.from({ length: 60 }, (_, i) => {
      const replica = replicas[i % 3]!;
      return replica.reserve(replica.pool(r, 100, Infinity), 7);
    });
    const granted = (await Promise.all(attempts)).filter(Boolean).length;
    expect(granted).toBeGreaterThan(0);
    expect(granted * 7).toBeLessThanOrEqual(100);
    expect(await store.total(r)).toBeLessThanOrEqual(100);
    // Leftovers a replica held but could not use go back, and are usable again.
    await Promise.all(replicas.map((a) => a.close()));
    expect(await store.total(r)).toBe(granted * 7);
    const later = new Allowances(store, logger);
    let more = 0;
    while (await later.reserve(later.pool(r, 100, Infinity), 7)) more++;
    expect(granted + more).toBe(Math.floor(100 / 7));
    await later.close();
  });

  it("admits every one of many reservations arriving together while the limit has room, taking one chunk for all", async () => {
    const allowances = new Allowances(store, logger);
    const r = ref();
    const pool = allowances.pool(r, 10_000, Infinity);
    const granted = await Promise.all(Array.from({ length: 200 }, () => allowances.reserve(pool, 1)));
    expect(granted.every(Boolean)).toBe(true);
    expect(pool.held).toBe(1000);
    expect(await store.total(r)).toBe(1000);
    await allowances.close();
  });

  it("reserves from memory once holding, and gives back what it did not use", async () => {
    const allowances = new Allowances(store, logger);
    const r = ref();
    const pool = allowances.pool(r, 1000, Infinity);
    expect(await allowances.reserve(pool, 10)).toBe(true);
    // A chunk of a tenth of the limit was taken, so the next ones need no query.
    expect(pool.held).toBe(100);
    expect(allowances.tryReserve(pool, 10)).toBe(true);
    allowances.settle(pool, 10, 4);
    allowances.release(pool, 10);
    expect(pool.used).toBe(4);
    await allowances.close();
    expect(await store.total(r)).toBe(4);
  });

  it("refuses a reservation larger than the whole limit without taking any of it from the other replicas", async () => {
    const allowances = new Allowances(store, logger);
    const r = ref();
    expect(await allowances.reserve(allowances.pool(r, 100, Infinity), 101)).toBe(false);
    expect(await store.total(r)).toBe(0);
    await allowances.close();
  });

  it("charges usage beyond what was reserved, past the limit if it already happened", async () => {
    const allowances = new Allowances(store, logger);
    const r = ref();
    const pool = allowances.pool(r, 50, Infinity);
    expect(await allowances.reserve(pool, 50)).toBe(true);
    allowances.settle(pool, 50, 80);
    await allowances.close();
    expect(await store.total(r)).toBe(80);
    expect(await new Allowances(store, logger).reserve(pool, 1)).toBe(false);
  });

  it("moves a budget to a new window with its spend and what it holds, and forwards later changes to the old one, also after another move", async () => {
    const keyId = randomUUID();
    const at = (windowStart: number) => ({ keyId, kind: "budget" as const, windowStart });
    const [first, second, third] = [at(1_000), at(2_000), at(3_000)];
    // A replica took $2 of the first window; $1.5 of it settled.
    await store.take(first, 2 * NANO, 100 * NANO, randomUUID());
    await store.addSpend(first, 1.5, aWrite());
    await store.moveSpend(first, second.windowStart);
    expect(await store.spend([second])).toEqual([1.5]);
    expect(await store.total(second)).toBe(2 * NANO);
    // A request admitted in the first window settles after the move, and the rest of the take goes back: the second follows.
    await store.addSpend(first, 0.25, aWrite());
    await store.giveBack(first, 0.25 * NANO, randomUUID());
    expect(await store.spend([first, second])).toEqual([1.75, 1.75]);
    expect([await store.total(first), await store.total(second)]).toEqual([1.75 * NANO, 1.75 * NANO]);
    await store.charge(first, 0.125 * NANO, randomUUID());
    expect(await store.total(second)).toBe(1.875 * NANO);
    // Moved again: what settles in either earlier window reaches the newest.
    await store.moveSpend(second, third.windowStart);
    await store.addSpend(first, 0.125, aWrite());
    await store.addSpend(second, 0.125, aWrite());
    expect(await store.spend([third])).toEqual([2]);
    await store.giveBack(first, 0.125 * NANO, randomUUID());
    expect(await store.total(third)).toBe(1.75 * NANO);
    // Back to the first window: it takes the newest's spend and stops forwarding; the others forward to it.
    await store.moveSpend(third, first.windowStart);
    await store.addSpend(first, 0.5, aWrite());
    await store.addSpend(third, 0.25, aWrite());
    expect(await store.spend([first, third])).toEqual([2.75, 2.25]);
  });

  it("makes a take from a window its budget moved from in the window moved to, against that window's total", async () => {
    const keyId = randomUUID();
    const [first, second] = [{ keyId, kind: "budget" as const, windowStart: 1_000 }, { keyId, kind: "budget" as const, windowStart: 2_000 }];
    await store.take(first, 2 * NANO, 10 * NANO, randomUUID());
    await store.moveSpend(first, second.windowStart);
    // A replica that heard of the move takes from the second window; one that has not yet, from the first, where $5 would still fit.
    expect(await store.take(second, 7 * NANO, 10 * NANO, randomUUID())).toBe(9 * NANO);
    expect(await store.take(first, 5 * NANO, 10 * NANO, randomUUID())).toBeUndefined();
    expect(await store.take(first, NANO, 10 * NANO, randomUUID())).toBe(10 * NANO);
    expect([await store.total(first), await store.total(second)]).toEqual([2 * NANO, 10 * NANO]);
  });

  it("loses none of the spend settling in a window while its budget moves", async () => {
    const keyId = randomUUID();
    const [from, to] = [{ keyId, kind: "budget" as const, windowStart: 1_000 }, { keyId, kind: "budget" as const, windowStart: 2_000 }];
    await store.take(from, NANO, 100 * NANO, randomUUID());
    const settle = (n: number) => Array.from({ length: n }, () => store.addSpend(from, 0.015625, aWrite()));
    const before = settle(100);
    await Promise.all(before.slice(0, 20));
    // The move, with settlements on every side of it: before, at the same time, after.
    await Promise.all([...before, store.moveSpend(from, to.windowStart), ...settle(100)]);
    await Promise.all(settle(50));
    const [old, moved] = await store.spend([from, to]);
    expect(old).toBe(250 * 0.015625);
    expect(moved).toBe(old);
  });

  it("makes a charge or give-back once per operation, however often it is tried, and no take under an operation asked about before it was made, for parallel slots as for budgets", async () => {
    const taken = randomUUID();
    for (const kind of ["parallel", "budget"] as const) {
      const r = { keyId: randomUUID(), kind, windowStart: 0 };
      expect(await store.take(r, 50, 100, kind === "budget" ? taken : randomUUID())).toBe(50);
      // Each tried again: its connection closed after Postgres made it, say.
      const [charge, giveBack] = [randomUUID(), randomUUID()];
      for (let i = 0; i < 2; i++) await store.charge(r, 10, charge);
      for (let i = 0; i < 2; i++) await store.giveBack(r, 20, giveBack);
      expect(await store.total(r)).toBe(40);
      // A take whose answer was lost, asked about before Postgres had it: it can no longer be made.
      const late = randomUUID();
      expect(await store.applied(late)).toBe(false);
      await expect(store.take(r, 1, 100, late)).rejects.toThrow();
      expect(await store.total(r)).toBe(40);
    }
    expect(await store.applied(taken)).toBe(true);
    await store.forgetOld(0);
    expect(await store.applied(taken)).toBe(false);
  });

  it("finds the operations it forgets through an index on their age, not by reading a day of them", async () => {
    expect(await planWithoutSeqScans(database.db, forgettingOps(allowanceOps, 24 * 60 * 60_000))).toContain("allowance_ops_made_at_idx");
  });

  it("forgets rpm and tpm windows that started over a day ago, and keeps budget windows and newer ones", async () => {
    const keyId = randomUUID();
    const [dayAgo, minuteAgo] = [Date.now() - 25 * 60 * 60_000, Date.now() - 60_000];
    const refs = [
      { keyId, kind: "requests", windowStart: dayAgo },
      { keyId, kind: "tokens", windowStart: dayAgo },
      { keyId, kind: "budget", windowStart: dayAgo },
      { keyId, kind: "requests", windowStart: minuteAgo },
    ] as const;
    for (const r of refs) await store.take(r, 1, 100, randomUUID());
    await store.forgetOld(24 * 60 * 60_000);
    expect(await Promise.all(refs.map((r) => store.total(r)))).toEqual([0, 0, 1, 1]);
  });

  it("keeps what it could not give back (the database gone) and gives it back once it can, for parallel slots as for budgets", async () => {
    for (const kind of ["parallel", "budget"] as const) {
      const holder = randomUUID();
      const flaky = new DownStore(database.db, holder);
      const replica = new Allowances(flaky, logger);
      const r = { keyId: randomUUID(), kind, windowStart: 0 };
      const pool = replica.pool(r, 2, Infinity);
      expect(await replica.reserve(pool, 1)).toBe(true);
      expect(await replica.reserve(pool, 1)).toBe(true);
      flaky.down = true;
      replica.release(pool, 1);
      replica.release(pool, 1);
      // Idle for a second, the replica gives both back, and the database is not there to take them.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(await flaky.total(r)).toBe(2);
      flaky.down = false;
      await eventually(`the ${kind} given back`, async () => ((await flaky.total(r)) === 0 ? true : undefined));
      const other = new Allowances(new AllowanceStore(database.db, randomUUID()), logger);
      const otherPool = other.pool(r, 2, Infinity);
      expect([await other.reserve(otherPool, 1), await other.reserve(otherPool, 1)]).toEqual([true, true]);
      await Promise.all([replica.close(), other.close()]);
    }
  });

  it("refuses a request over the limit without asking the store again for a moment after it refused as much", async () => {
    const counting = new CountingStore(database.db, randomUUID());
    const replica = new Allowances(counting, logger);
    const r = { keyId: randomUUID(), kind: "requests" as const, windowStart: Date.now() };
    const pool = replica.pool(r, 10, Date.now() + 60_000);
    let admitted = 0;
    for (let i = 0; i < 60; i++) if (await replica.reserve(pool, 1)) admitted += 1;
    expect(admitted).toBe(10);
    // Ten takes of one (a tenth of ten), then the one refused: the other fifty asked nothing.
    expect(counting.takes).toBe(11);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await replica.reserve(pool, 1)).toBe(false);
    expect(counting.takes).toBe(12);
    await replica.close();
  });

  it("logs an outage's failed operations once, and once more when they go through again", async () => {
    const levels: [number, string][] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n").filter((l) => l !== "")) {
          const { level, msg } = JSON.parse(line) as { level: number; msg: string };
          levels.push([level, msg]);
        }
        done();
      },
    });
    const flaky = new DownStore(database.db, randomUUID());
    const replica = new Allowances(flaky, createLogger("keys-test", "info", destination));
    const refs = [ref(), ref(), ref()];
    const pools = refs.map((r) => replica.pool(r, 100, Infinity));
    for (const pool of pools) expect(await replica.reserve(pool, 10)).toBe(true);
    flaky.down = true;
    // Each used 40 where it reserved 10: three charges fail, and fail again at each sweep.
    for (const pool of pools) replica.settle(pool, 10, 40);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    flaky.down = false;
    await eventually("the usage charged", async () => ((await Promise.all(refs.map((r) => flaky.total(r)))).every((total) => total === 40) ? true : undefined));
    expect(levels).toEqual([
      [50, "charging usage over the allowance failed; trying again in a second"],
      [30, "allowance operations go through again"],
    ]);
    await replica.close();
  });

  it("forgets an idle pool that holds nothing, also of a window that never ends (a deleted key's parallel slots, a budget for good), and one a request still had gives back what it takes", async () => {
    const replica = new Allowances(store, logger);
    const pools = () => (replica as unknown as { pools: Map<string, unknown> }).pools;
    const refs = (["parallel", "budget"] as const).map((kind) => ({ keyId: randomUUID(), kind, windowStart: 0 }));
    const held = refs.map((r) => replica.pool(r, 100, Infinity));
    for (const pool of held) expect(await replica.reserve(pool, 1)).toBe(true);
    replica.release(held[0]!, 1);
    replica.settle(held[1]!, 1, 1);
    expect(pools().size).toBe(2);
    // Idle, each gives back what it holds unused, and is then forgotten: they were kept for good, one per key ever used.
    await eventually("the idle pools forgotten", async () => (pools().size === 0 ? true : undefined));
    expect(await Promise.all(refs.map((r) => store.total(r)))).toEqual([0, 1]);
    // A request that got the parallel pool before it was forgotten still reserves from it, and what it takes goes back as it ends.
    expect(await replica.reserve(held[0]!, 1)).toBe(true);
    expect(await store.total(refs[0]!)).toBe(10);
    replica.release(held[0]!, 1);
    await eventually("the stale pool's take given back", async () => ((await store.total(refs[0]!)) === 0 ? true : undefined));
    // The next request makes a new pool, within the limit as ever.
    const fresh = replica.pool(refs[0]!, 100, Infinity);
    expect(fresh).not.toBe(held[0]);
    let taken = 0;
    while (await replica.reserve(fresh, 10)) taken += 10;
    expect(taken).toBe(100);
    await replica.close();
  });

  it("charges usage past its holding that it could not charge (the database gone) once it can, so other replicas cannot pass the limit by it", async () => {
    const flaky = new DownStore(database.db, randomUUID());
    const replica = new Allowances(flaky, logger);
    const r = ref();
    const pool = replica.pool(r, 100, Infinity);
    expect(await replica.reserve(pool, 10)).toBe(true);
    flaky.down = true;
    // The request used 40 where it reserved 10: 30 past what the replica held.
    replica.settle(pool, 10, 40);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await flaky.total(r)).toBe(10);
    flaky.down = false;
    await eventually("the usage charged", async () => ((await flaky.total(r)) === 40 ? true : undefined));
    const other = new Allowances(new AllowanceStore(database.db, randomUUID()), logger);
    const otherPool = other.pool(r, 100, Infinity);
    let taken = 0;
    while (await other.reserve(otherPool, 10)) taken += 10;
    expect(taken).toBe(60);
    await Promise.all([replica.close(), other.close()]);
  });
});
