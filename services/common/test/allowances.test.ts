import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Allowances, createLogger, type AllowanceLedger } from "../src/index.js";

const logger = createLogger("test", "silent");

/** A ledger in memory: one total per allowance, and the time it was last asked to forget by. */
class MemoryLedger implements AllowanceLedger<string> {
  readonly totals = new Map<string, number>();
  forgotAt: number | undefined;

  idOf(ref: string): string {
    return ref;
  }

  async take(ref: string, amount: number, limit: number): Promise<number | undefined> {
    const total = (this.totals.get(ref) ?? 0) + amount;
    if (total > limit) return undefined;
    this.totals.set(ref, total);
    return total;
  }

  async charge(ref: string, amount: number): Promise<void> {
    this.totals.set(ref, (this.totals.get(ref) ?? 0) + amount);
  }

  async giveBack(ref: string, amount: number): Promise<void> {
    this.totals.set(ref, (this.totals.get(ref) ?? 0) - amount);
  }

  async applied(): Promise<boolean> {
    return false;
  }

  async forgetOld(_ageMs: number, now: number): Promise<void> {
    this.forgotAt = now;
  }
}

describe("allowances", () => {
  it("measures idle time and the end of windows by the clock it is given", async () => {
    let now = 1_000_000;
    const ledger = new MemoryLedger();
    const allowances = new Allowances(ledger, logger, () => now);
    const idle = allowances.pool("idle", 100, now + 60_000);
    const ending = allowances.pool("ending", 100, now + 30_000);
    // Each takes a tenth of its limit, and uses none of it once released.
    for (const pool of [idle, ending]) {
      expect(await allowances.reserve(pool, 1)).toBe(true);
      allowances.release(pool, 1);
    }
    // Sweeps pass with the clock stopped: nothing is idle yet, and the first forgets by that clock.
    await sleep(1_800);
    expect(ledger.totals.get("idle")).toBe(10);
    expect(ledger.forgotAt).toBe(1_000_000);
    now += 45_000;
    await sleep(1_500);
    // Idle by the clock, one goes back; the other's window ended by it, and its leftovers lapse.
    expect(ledger.totals.get("idle")).toBe(0);
    expect(ledger.totals.get("ending")).toBe(10);
    expect(allowances.find("ending")).toBeUndefined();
    await allowances.close();
  });

  it("gives back at close what a request took into a pool forgotten while it held it", async () => {
    let now = 1_000_000;
    const ledger = new MemoryLedger();
    const allowances = new Allowances(ledger, logger, () => now);
    // A budget for good: one unit spent, from a take of a tenth.
    const pool = allowances.pool("budget", 100, Infinity);
    expect(await allowances.reserve(pool, 1)).toBe(true);
    allowances.settle(pool, 1, 1);
    now += 2_000;
    // Idle: the unused nine go back, and at the next sweep the pool, holding nothing, is forgotten.
    await sleep(2_300);
    expect(ledger.totals.get("budget")).toBe(1);
    expect(allowances.find("budget")).toBeUndefined();
    // A request that got the pool before then takes a tenth into it, and is still in flight at shutdown.
    expect(await allowances.reserve(pool, 1)).toBe(true);
    expect(ledger.totals.get("budget")).toBe(11);
    await allowances.close();
    // What it did not reserve went back: the store counts the spent unit and the one in flight.
    expect(ledger.totals.get("budget")).toBe(2);
  });

  it("asks the store for more only once its own charge for usage past its holding has landed", async () => {
    const ledger = new MemoryLedger();
    let land!: () => void;
    const landed = new Promise<void>((resolve) => (land = resolve));
    const charge = ledger.charge.bind(ledger);
    ledger.charge = async (ref, amount) => {
      await landed;
      await charge(ref, amount);
    };
    const allowances = new Allowances(ledger, logger);
    const pool = allowances.pool("tpm", 100, Infinity);
    // A request reserved 1 (its replica took a tenth) and used 150: the limit many times over.
    expect(await allowances.reserve(pool, 1)).toBe(true);
    allowances.settle(pool, 1, 150);
    // The next one is refused, however long the charge takes to land: the store, asked before it had, granted a tenth more.
    const next = allowances.reserve(pool, 1);
    await sleep(50);
    land();
    expect(await next).toBe(false);
    expect(ledger.totals.get("tpm")).toBe(150);
    await allowances.close();
  });

  it("finds the pool in use for an allowance without making one", async () => {
    const allowances = new Allowances(new MemoryLedger(), logger);
    expect(allowances.find("a")).toBeUndefined();
    expect(allowances.find("a")).toBeUndefined();
    const pool = allowances.pool("a", 10, Infinity);
    expect(allowances.find("a")).toBe(pool);
    await allowances.close();
  });
});
