import { randomUUID } from "node:crypto";
import { Allowances } from "@gateway/common";
import { eventually } from "@gateway/testing";
import { describe, expect, it } from "vitest";
import { AllowanceStore, type AllowanceKind, type AllowanceRef } from "../src/allowance-store.js";
import { keysDatabaseBehindCuts, logger } from "./support.js";

// The allowance store's connection to the real Postgres passes through a
// proxy that, when armed, cuts the connection of the next statement whose
// text holds the armed words, once Postgres has run and committed it and
// before its answer reaches the replica, as a network blip or a failover
// can: the replica sees only the connection close, and must neither make
// it again nor take it for not made.

const { database, cuts } = keysDatabaseBehindCuts(1);
const answerLost = () => eventually("the statement's answer lost", async () => (cuts().armed ? undefined : true));

/** A replica of its own (its own holder of parallel slots), on the proxied connection. */
const replica = () => {
  const store = new AllowanceStore(database().db, randomUUID());
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
      cuts().loseAnswerTo("SET granted = GREATEST(0, granted -");
      a.allowances.release(poolA, 1);
      // Idle for a second, the replica gives its 10 back; the answer is lost, and the sweeps try again.
      await answerLost();
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
    cuts().loseAnswerTo("charged AS (");
    // The request used 40 where it reserved 10: 30 charged past what the replica held.
    allowances.settle(pool, 10, 40);
    await answerLost();
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
      cuts().loseAnswerTo("taken AS (");
      await expect(allowances.reserve(pool, 1)).rejects.toThrow();
      expect(await store.total(r)).toBe(10);
      await eventually(`the ${kind} take given back`, async () => ((await store.total(r)) === 0 ? true : undefined), 5_000);
      expect(pool.held).toBe(0);
      await allowances.close();
    }
  });

  it("holds nothing for a take Postgres never had, though its store's answer to whether it was made is lost, for parallel slots as for budgets", async () => {
    for (const kind of ["parallel", "budget"] as const) {
      const r = allowance(kind);
      const [a, b] = [replica(), replica()];
      const [poolA, poolB] = [a.allowances.pool(r, 100, Infinity), b.allowances.pool(r, 100, Infinity)];
      expect(await b.allowances.reserve(poolB, 50)).toBe(true);
      // The take never reaches Postgres; the sweep's question whether it was made
      // is answered (not made, and now it can no longer be) but the answer is lost.
      cuts().cutWhenSent("taken AS (");
      await expect(a.allowances.reserve(poolA, 1)).rejects.toThrow();
      cuts().loseAnswerTo("AS applied");
      await answerLost();
      await sweeps();
      await sweeps();
      // Asked again, the store must still say "not made": a holds nothing, and the store counts b's 50 alone.
      expect(poolA.held).toBe(0);
      expect(await a.store.total(r)).toBe(50);
      await Promise.all([a.allowances.close(), b.allowances.close()]);
    }
  }, 20_000);
});
