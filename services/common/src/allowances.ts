import { randomUUID } from "node:crypto";
import { driverMessage } from "./database.js";
import { FailureRun } from "./failure-run.js";
import type { Logger } from "./logger.js";
import { takeTogether, type Taking } from "./take-together.js";

/**
 * The shared side of leased limits (Postgres, one table per service): how
 * much all replicas together have taken of each allowance. Each method is
 * one atomic statement. Takes, charges and give-backs carry an operation id
 * (`op`, a UUID) that the store records as applied with them (allowance-ops.ts),
 * so one whose answer was lost can be asked about or tried again.
 */
export interface AllowanceLedger<Ref> {
  /** One string per allowance, for maps. */
  idOf(ref: Ref): string;
  /** Takes `amount` if the total stays within `limit`; the new total, or undefined when it would not fit (nothing taken, `op` not recorded). */
  take(ref: Ref, amount: number, limit: number, op: string): Promise<number | undefined>;
  /** Adds `amount` whatever the limit: usage that already happened must be counted. Only once per `op`, however often it is tried. */
  charge(ref: Ref, amount: number, op: string): Promise<void>;
  /** Gives back what a replica took and did not use. Only once per `op`, however often it is tried. */
  giveBack(ref: Ref, amount: number, op: string): Promise<void>;
  /** Whether the take `op` was made; once asked, it can no longer be. */
  applied(op: string): Promise<boolean>;
  /**
   * Forgets the operations recorded, and the windows of limits that ended,
   * more than `ageMs` ago (a store keeps the windows whose spend is still
   * shown). `now` is the time by the clock the windows were started by.
   */
  forgetOld(ageMs: number, now: number): Promise<void>;
}

/** One take, charge or give-back of an allowance: tried again, or asked about, under its id until the store answers. */
export interface AllowanceOp {
  op: string;
  amount: number;
}

/** A new operation of `amount`, under an id of its own. */
export const newOp = (amount: number): AllowanceOp => ({ op: randomUUID(), amount });

/** Budgets are counted in nano-dollars, so sums of small costs stay exact. */
export const NANO = 1e9;

// Give back what has sat unused this long, so other replicas can take it.
const IDLE_GIVE_BACK_MS = 1_000;
// Take a tenth of a limit at a time: few database trips when there is room,
// exact answers when there is little.
const CHUNK_FRACTION = 0.1;
// Operations are kept recorded in the store for a day (one tried again
// later could apply twice), as are finished windows, and forgotten every
// ten minutes.
const KEPT_MS = 24 * 60 * 60_000;
const FORGET_EVERY_MS = 10 * 60_000;
// A store's refusal of a take stands for this long: a take needing as much
// or more is refused without asking again.
const REFUSAL_KEPT_MS = 250;
// A pool of a window ending within this (a rate limit's minute) is kept to
// its end, idle or not: its counts say what the window has used (the
// router's usage-based routing picks by them) and it goes then anyway.
const KEPT_TO_WINDOW_END_MS = 60_000;

/** This replica's share of one allowance (a key's limit of one kind, in one window, say). */
export class Pool<Ref = unknown> {
  /** Taken from the store by this replica. */
  held = 0;
  /** In use here: reservations in flight, plus what finished requests consumed. */
  used = 0;
  /** The part of `used` reserved by requests still in flight. */
  reserved = 0;
  /** What the other replicas held at our last take, for "remaining" headers. */
  others = 0;
  lastUse = Date.now();
  /** This replica's take from the store in flight for this pool, if any. */
  taking: Taking | undefined;
  /** Replaced by a pool under a changed limit: what its requests in flight free goes back to the store at once. */
  retired = false;
  /** Charges that failed (the database down, or the answer lost), their amounts in `held`: tried again at the next sweeps, each as the same operation. */
  uncharged: AllowanceOp[] = [];
  /** Give-backs that failed, their amounts no longer in `held` (on their way to the store): tried again at the next sweeps, each as the same operation. */
  ungiven: AllowanceOp[] = [];
  /** Takes that failed, which the store may have made all the same: asked about at the next sweeps, and held if it did. */
  unsure: AllowanceOp[] = [];
  /** This replica's charges on their way to the store: a take waits for them (the store, not counting them yet, granted room they had used). */
  charging: Promise<void> | undefined;
  /** When the store last refused a take for this pool (its clock's ms), and the least it refused then. */
  refusedAt = -Infinity;
  refusedNeed = Infinity;

  constructor(
    readonly ref: Ref,
    readonly limit: number,
    /** When the window ends (ms), or Infinity. */
    readonly endsAt: number,
  ) {}

  get free(): number {
    return this.held - this.used;
  }

  /** What is left of the limit for everyone, as far as this replica knows. */
  get remaining(): number {
    return Math.max(0, this.limit - this.others - this.used);
  }
}

/**
 * Limits held as leases: a request reserves from what this replica already
 * took (no I/O), and only when that runs short does the replica take more
 * from Postgres with one conditional update. The store never lets the sum
 * over replicas pass the limit, so neither can the requests.
 */
export class Allowances<Ref> {
  private readonly pools = new Map<string, Pool<Ref>>();
  /** Pools no longer in `pools` (retired, or swept) with operations that failed or free to give back: done at the next sweeps. */
  private readonly pending = new Set<Pool<Ref>>();
  private readonly sweeper: NodeJS.Timeout;
  private forgottenAt = 0;

  /** The store's failures, retried each second through an outage: logged once for the run, not once per operation and second. */
  private readonly failures: FailureRun;

  constructor(
    private readonly store: AllowanceLedger<Ref>,
    private readonly logger: Logger,
    /** The clock windows end by, and idle time is measured by (one stopped mid-window in tests). */
    private readonly now: () => number = Date.now,
  ) {
    this.failures = new FailureRun(logger, "allowance operations");
    this.sweeper = setInterval(() => this.sweep(), IDLE_GIVE_BACK_MS);
    this.sweeper.unref();
  }

  pool(ref: Ref, limit: number, endsAt: number): Pool<Ref> {
    const id = this.store.idOf(ref);
    let pool = this.pools.get(id);
    if (!pool || pool.limit !== limit) {
      // The key's limit changed: hand back the old holding, start afresh.
      // The old pool is no longer swept, so what its requests in flight
      // free is handed back as they release (it stayed taken for good: a
      // key whose max_parallel_requests changed with requests in flight
      // was refused from then on).
      if (pool) this.retire(pool);
      pool = new Pool<Ref>(ref, limit, endsAt);
      pool.lastUse = this.now();
      this.pools.set(id, pool);
    }
    return pool;
  }

  /** The pool in use for `ref`, whatever its limit, if there is one: asking makes none, nor replaces one. */
  find(ref: Ref): Pool<Ref> | undefined {
    return this.pools.get(this.store.idOf(ref));
  }

  /** Lets the next take of every pool ask the store again: a limit or spend changed (a key's budget reset, say), and a refusal no longer stands. */
  forgetRefusals(): void {
    for (const pool of this.pools.values()) pool.refusedAt = -Infinity;
  }

  /** Reserves from memory if this replica holds enough; false means "ask the store". */
  tryReserve(pool: Pool<Ref>, amount: number): boolean {
    if (pool.free < amount) return false;
    pool.used += amount;
    pool.reserved += amount;
    pool.lastUse = this.now();
    return true;
  }

  /** Reserves `amount`, taking more from the store if needed; false when the limit has no room. */
  async reserve(pool: Pool<Ref>, amount: number): Promise<boolean> {
    // More than the whole limit never fits; taking for it would only keep the limit from others.
    if (amount > pool.limit) return false;
    // The store refused as much just now and would again: a client over its
    // limit cost a statement or two per request (a chunk, then what it
    // needed), as many a second as it sent. Room other replicas give back
    // meanwhile is seen from the next ask on.
    if (pool.free < amount && amount - pool.free >= pool.refusedNeed && this.now() - pool.refusedAt < REFUSAL_KEPT_MS) return false;
    return takeTogether({
      lease: () => pool,
      enough: () => this.tryReserve(pool, amount),
      missing: () => amount - pool.free,
      takeMore: (_, need) => this.takeMore(pool, need),
    });
  }

  /** Takes a chunk from the store, or just `need` when a chunk no longer fits; false when even that does not. */
  private async takeMore(pool: Pool<Ref>, need: number): Promise<boolean> {
    // Asked before this replica's charge for a request that used past its
    // holding had landed, the store granted a chunk of a limit the request
    // had used up, and the key ran on that chunk: after a batch that used
    // its tokens-per-minute many times over, requests were let in until the
    // chunk ran out.
    while (pool.charging) await pool.charging;
    const chunk = Math.min(pool.limit, Math.max(need, Math.floor(pool.limit * CHUNK_FRACTION)));
    let taken = chunk;
    let total = await this.take(pool, chunk);
    if (total === undefined && chunk > need) {
      taken = need;
      total = await this.take(pool, need);
    }
    if (total === undefined) {
      pool.refusedAt = this.now();
      pool.refusedNeed = need;
      return false;
    }
    pool.held += taken;
    pool.others = total - pool.held;
    // Taken into a pool out of use (retired, or forgotten while a request
    // held it): the sweeps and close() must still see it, or what it holds
    // past its reservations stayed taken at shutdown.
    this.keepPending(pool);
    return true;
  }

  /**
   * One take from the store. One that fails (not a refusal) may have been
   * made all the same (Postgres ran it, the answer was lost): the request
   * fails, and the sweeps ask the store about it, lest what it took stay
   * granted with no replica holding it.
   */
  private async take(pool: Pool<Ref>, amount: number): Promise<number | undefined> {
    const op = newOp(amount);
    try {
      const total = await this.store.take(pool.ref, amount, pool.limit, op.op);
      this.failures.succeeded();
      return total;
    } catch (err) {
      pool.unsure.push(op);
      this.keepPending(pool);
      throw err;
    }
  }

  /** Returns a reservation unused (a parallel slot, a failed request's budget). */
  release(pool: Pool<Ref>, amount: number): void {
    pool.used -= amount;
    pool.reserved -= amount;
    pool.lastUse = this.now();
    if (pool.retired) this.retire(pool);
  }

  /** Settles a reservation to what was really used; usage past the holding is charged anyway. */
  settle(pool: Pool<Ref>, reserved: number, actual: number): void {
    pool.used += actual - reserved;
    pool.reserved -= reserved;
    pool.lastUse = this.now();
    const over = pool.used - pool.held;
    if (over > 0) {
      pool.held += over;
      const before = pool.charging;
      const charged = this.charge(pool, newOp(over));
      const charging = before ? Promise.all([before, charged]).then(() => undefined) : charged;
      pool.charging = charging;
      void charging.then(() => {
        if (pool.charging === charging) pool.charging = undefined;
      });
    }
    if (pool.retired) this.retire(pool);
  }

  /**
   * Charges the store with usage past what this replica held. One that
   * fails (the database down) is owed and tried again at the next sweeps:
   * dropped, the other replicas would take room this replica's requests had
   * used, and pass the limit by it. It is tried as the same operation, since
   * the store may have made it (the answer lost): made again, it counted twice.
   */
  private charge(pool: Pool<Ref>, op: AllowanceOp): Promise<void> {
    return this.store.charge(pool.ref, op.amount, op.op).then(
      () => this.failures.succeeded(),
      (err: unknown) => this.owe(pool, pool.uncharged, op, err, "charging usage over the allowance failed; trying again in a second"),
    );
  }

  /** Gives back `amount` of what the pool holds unused. */
  private giveBack(pool: Pool<Ref>, amount: number): Promise<void> {
    pool.held -= amount;
    return this.tryGiveBack(pool, newOp(amount));
  }

  private tryGiveBack(pool: Pool<Ref>, op: AllowanceOp): Promise<void> {
    return this.store.giveBack(pool.ref, op.amount, op.op).then(
      () => this.failures.succeeded(),
      (err: unknown) => {
        // The store may have made it (the answer lost) or not (Postgres down):
        // it is tried again at the next sweeps as the same operation, which the
        // store makes once, and stays out of what this replica holds meanwhile.
        // Held again and given back anew, a give-back made but not answered
        // was made twice, and the other replicas could take past the limit.
        // Dropped, it stayed taken for good: parallel slots have no window to
        // end, and a key whose slots were given back during a five-second
        // outage was refused max_parallel_requests from then on.
        this.owe(pool, pool.ungiven, op, err, "giving back an allowance failed; trying again in a second");
      },
    );
  }

  /** Asks the store whether a take that failed was made; if it was, the pool holds it (and gives it back when idle). */
  private confirm(pool: Pool<Ref>, op: AllowanceOp): Promise<void> {
    return this.store.applied(op.op).then(
      (applied) => {
        this.failures.succeeded();
        if (!applied) return;
        pool.held += op.amount;
        this.keepPending(pool);
      },
      (err: unknown) => this.owe(pool, pool.unsure, op, err, "asking whether a take of an allowance was made failed; asking again in a second"),
    );
  }

  /** An operation the store did not answer: kept on `owed` (one of the pool's lists) for the next sweeps, as the same operation, and logged once an outage. */
  private owe(pool: Pool<Ref>, owed: AllowanceOp[], op: AllowanceOp, err: unknown, message: string): void {
    owed.push(op);
    this.keepPending(pool);
    this.failures.failed({ err: driverMessage(err) }, message);
  }

  /** Tries again the pool's failed operations with the store, each as it was; those that fail again stay for the next sweep. */
  private retry(pool: Pool<Ref>): Promise<unknown> {
    if (pool.uncharged.length + pool.ungiven.length + pool.unsure.length === 0) return Promise.resolve();
    const [charges, giveBacks, takes] = [pool.uncharged.splice(0), pool.ungiven.splice(0), pool.unsure.splice(0)];
    return Promise.all([
      ...charges.map((op) => this.charge(pool, op)),
      ...giveBacks.map((op) => this.tryGiveBack(pool, op)),
      ...takes.map((op) => this.confirm(pool, op)),
    ]);
  }

  /** Has the sweeps finish a pool's failed operations, and give back what it holds, also once it is no longer in use. */
  private keepPending(pool: Pool<Ref>): void {
    if (this.pools.get(this.store.idOf(pool.ref)) !== pool) this.pending.add(pool);
  }

  /** Takes a pool out of use: what it holds unused goes back now, and what it frees later as it is freed. */
  private retire(pool: Pool<Ref>): void {
    pool.retired = true;
    if (pool.free > 0 && pool.endsAt > this.now()) void this.giveBack(pool, pool.free);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, pool] of this.pools) {
      // A finished window's leftovers are worth nothing to anyone; in-flight
      // reservations keep their pool object and still settle into it.
      if (pool.endsAt <= now) {
        this.pools.delete(id);
        continue;
      }
      void this.retry(pool);
      if (now - pool.lastUse < IDLE_GIVE_BACK_MS) continue;
      if (pool.free > 0) void this.giveBack(pool, pool.free);
      else if (pool.endsAt - now > KEPT_TO_WINDOW_END_MS && pool.reserved === 0 && pool.taking === undefined && pool.uncharged.length + pool.ungiven.length + pool.unsure.length === 0) {
        // Idle and holding nothing: forgotten, as the store counts all it
        // took. Windows that never end (parallel slots, a budget for good)
        // were kept for good, one a key, deleted keys' too. Retired, so a
        // request that got it just now gives back at once what it takes
        // into it; the next request makes a new pool.
        this.pools.delete(id);
        pool.retired = true;
      }
    }
    for (const pool of this.pending) {
      this.pending.delete(pool);
      if (pool.endsAt <= now) continue;
      void this.retry(pool);
      if (pool.free > 0) void this.giveBack(pool, pool.free);
    }
    if (now - this.forgottenAt >= FORGET_EVERY_MS) {
      this.forgottenAt = now;
      this.store.forgetOld(KEPT_MS, now).catch((err: unknown) => this.logger.warn({ err: driverMessage(err) }, "forgetting old allowance operations and windows failed"));
    }
  }

  /**
   * The store gave back this replica's part of the matching allowances for
   * it (it took this replica for dead): hold again what requests in flight
   * here still use, whatever the limit (they are running). Those pools are
   * retired: what their requests free goes back to the store as they end,
   * and new requests take afresh, within the limit, from new pools.
   */
  async reclaim(match: (ref: Ref) => boolean): Promise<void> {
    for (const pool of [...this.pools.values(), ...this.pending]) {
      if (!match(pool.ref)) continue;
      this.pools.delete(this.store.idOf(pool.ref));
      this.pending.delete(pool);
      pool.retired = true;
      pool.held = pool.used;
      // What was on its way to or from the store is settled too: the store gave back all it counted as this replica's.
      pool.uncharged = [];
      pool.ungiven = [];
      pool.unsure = [];
      if (pool.used > 0) {
        const op = newOp(pool.used);
        await this.store.charge(pool.ref, op.amount, op.op);
      }
    }
  }

  /** Gives back everything unused, and charges what is owed, e.g. at shutdown. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const now = this.now();
    const open = [...this.pools.values(), ...this.pending].filter((p) => p.endsAt > now);
    this.pending.clear();
    await Promise.all(
      open.map(async (p) => {
        await this.retry(p);
        if (p.free > 0) await this.giveBack(p, p.free);
      }),
    );
  }
}
