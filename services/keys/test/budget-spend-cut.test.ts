import { randomUUID } from "node:crypto";
import { BudgetSpend } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { AllowanceStore, type AllowanceRef } from "../src/allowance-store.js";
import { keysDatabaseBehindCuts, logger } from "./support.js";

// The budget spend's connection to the real Postgres passes through a proxy
// that, when armed, cuts the connection of the statement that adds spend:
// after Postgres ran it, before the answer is back, as a network blip or a
// failover can (Postgres committed the addition; the writer sees only the
// connection close), or before Postgres has it (nothing was added).

const { database, cuts } = keysDatabaseBehindCuts(1);
const SPEND_WRITE = "SET spend = spend +";

describe("budget spend whose write's connection is cut", () => {
  const budget = (): AllowanceRef => ({ keyId: randomUUID(), kind: "budget", windowStart: 0 });

  it("counts the spend once when the write is tried again after Postgres made it", async () => {
    const store = new AllowanceStore(database().db, randomUUID());
    const ref = budget();
    await store.take(ref, 1, 1_000, randomUUID());
    const spend = new BudgetSpend(store, logger);
    try {
      spend.add(ref, 0.25);
      cuts().loseAnswerTo(SPEND_WRITE);
      await spend.write();
      expect(cuts().armed).toBe(false);
      // The failed write is tried again, on a new connection.
      expect(await spend.of([ref])).toEqual([0.25]);
    } finally {
      await spend.close();
    }
  });

  it("counts every budget's spend once when a write Postgres never had is tried again after others were pending", async () => {
    const store = new AllowanceStore(database().db, randomUUID());
    const refs = [budget(), budget(), budget()];
    for (const ref of refs) await store.take(ref, 1, 1_000, randomUUID());
    const spend = new BudgetSpend(store, logger);
    try {
      for (const ref of refs) spend.add(ref, 0.5);
      cuts().cutWhenSent(SPEND_WRITE);
      await spend.write();
      expect(cuts().armed).toBe(false);
      for (const ref of refs) spend.add(ref, 0.25);
      expect(await spend.of(refs)).toEqual([0.75, 0.75, 0.75]);
    } finally {
      await spend.close();
    }
  });

  it("writes the other budgets' spend while Postgres refuses one's write (refused, it was not made)", async () => {
    const store = new AllowanceStore(database().db, randomUUID());
    const [good, bad] = [budget(), { ...budget(), windowStart: 2 ** 70 }];
    await store.take(good, 1, 1_000, randomUUID());
    const spend = new BudgetSpend(store, logger);
    try {
      spend.add(bad, 0.5);
      spend.add(good, 0.5);
      await spend.write();
      spend.add(good, 0.25);
      expect(await spend.of([good])).toEqual([0.75]);
    } finally {
      await spend.close();
    }
  });
});
