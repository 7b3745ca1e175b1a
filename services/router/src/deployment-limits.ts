import { driverMessage, newOp, takeTogether, type AllowanceOp, type Logger, type Taking } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { AllowanceKind, AllowanceRef, DeploymentAllowanceStore } from "./db/deployment-allowance-store.js";

/**
 * Per-deployment rpm and tpm (litellm_params.rpm / tpm) held across every
 * router replica, for usage-based routing.
 */
export interface DeploymentLimits {
  /**
   * Takes one request and `tokens` tokens of the deployment's current
   * minute; false (nothing taken) when that would pass its rpm or tpm.
   * In memory unless this replica must take more allowance from Postgres.
   */
  admit(d: Deployment, tokens: number): boolean | Promise<boolean>;
  /** The call admitted at `admittedAt` (unix ms) ended: `reserved` tokens were taken, `used` were really used. */
  settle(d: Deployment, reserved: number, used: number, admittedAt: number): void;
  /** Tokens the deployment has used this minute, as far as this replica knows (all replicas' when it has a tpm). */
  tokensUsed(d: Deployment): number;
}

const MINUTE_MS = 60_000;
// A replica takes this share of a limit at a time, so most calls need no database.
const CHUNK_SHARE = 0.1;
// What a replica holds unused this long goes back, so other replicas can take it.
const IDLE_GIVE_BACK_MS = 1_000;
// Finished minutes' rows are of use to no one: each replica deletes those
// older than an hour, every ten minutes (a table otherwise gaining a row per
// deployment, kind and minute for good).
const ROWS_KEPT_MS = 60 * MINUTE_MS;
const PRUNE_EVERY_MS = 10 * MINUTE_MS;

/** One replica's share of one deployment's limit in one minute. */
interface Lease {
  windowStart: number;
  /** Taken from the shared total and not yet used by a call. */
  held: number;
  /** The shared total (all replicas) when this replica last took some. */
  total: number;
  /** Used by this replica's calls. */
  used: number;
  // The store may have made an operation whose statement failed (Postgres
  // ran it, the answer was lost), so each is tried again, or asked about,
  // under its own id each second while the minute lasts; a finished
  // minute's are dropped with its lease, its count no longer mattering.
  /** Charges that failed, of tokens used past what was taken. */
  uncharged: AllowanceOp[];
  /** Give-backs that failed, their amounts no longer in `held`: held again and given back anew, one made but not answered was made twice, and other replicas could take past the limit. */
  ungiven: AllowanceOp[];
  /** Takes that failed, held if the store made them: else granted with no replica holding them. */
  unsure: AllowanceOp[];
  lastUse: number;
  /** This replica's take from the store in flight for this lease, if any. */
  taking: Taking | undefined;
}

const minute = (now: number) => now - (now % MINUTE_MS);

/**
 * Limits as leases from Postgres, the keys service's pattern: a replica takes
 * a tenth of a deployment's per-minute limit with one conditional upsert
 * (granted + chunk <= limit) and admits calls from what it holds, so the
 * sum over replicas never passes the limit. Unused leases go back after a
 * second idle; a finished minute's leftovers lapse.
 */
export class SharedDeploymentLimits implements DeploymentLimits {
  private readonly leases = new Map<string, Lease>();
  private readonly sweeper: NodeJS.Timeout;
  private prunedAt = -Infinity;

  constructor(
    private readonly store: DeploymentAllowanceStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), IDLE_GIVE_BACK_MS);
    this.sweeper.unref();
  }

  private lease(id: string, kind: AllowanceKind): Lease {
    const key = `${kind}:${id}`;
    const windowStart = minute(this.now());
    let l = this.leases.get(key);
    if (!l || l.windowStart !== windowStart) {
      l = { windowStart, held: 0, total: 0, used: 0, lastUse: this.now(), taking: undefined, uncharged: [], ungiven: [], unsure: [] };
      this.leases.set(key, l);
    }
    return l;
  }

  admit(d: Deployment, tokens: number): boolean | Promise<boolean> {
    const needs: [AllowanceKind, number, number][] = [];
    if (d.rpm !== undefined) needs.push(["requests", 1, d.rpm]);
    if (d.tpm !== undefined) needs.push(["tokens", tokens, d.tpm]);
    if (needs.every(([kind, amount]) => this.lease(d.id, kind).held >= amount)) {
      this.use(d, needs, tokens);
      return true;
    }
    return this.take(d, needs, tokens);
  }

  private use(d: Deployment, needs: [AllowanceKind, number, number][], tokens: number): void {
    for (const [kind, amount] of needs) {
      const l = this.lease(d.id, kind);
      l.held -= amount;
      l.used += amount;
      l.lastUse = this.now();
    }
    if (d.tpm === undefined) this.lease(d.id, "tokens").used += tokens;
  }

  private async take(d: Deployment, needs: [AllowanceKind, number, number][], tokens: number): Promise<boolean> {
    // Calls waiting on each other may use up what one of them took: check all again after the takes.
    for (;;) {
      for (const [kind, amount, limit] of needs) if (!(await this.fill(d, kind, amount, limit))) return false;
      if (needs.every(([kind, amount]) => this.lease(d.id, kind).held >= amount)) break;
    }
    this.use(d, needs, tokens);
    return true;
  }

  /** Makes the lease hold `amount`, taking more from the store (together with calls arriving at once); false when the limit has no room. */
  private async fill(d: Deployment, kind: AllowanceKind, amount: number, limit: number): Promise<boolean> {
    if (this.lease(d.id, kind).held >= amount) return true;
    return takeTogether({
      lease: () => this.lease(d.id, kind),
      enough: (l) => l.held >= amount,
      missing: (l) => amount - l.held,
      takeMore: (l, need) => this.takeMore(d, kind, l, need, limit),
    });
  }

  /** Takes a chunk from the store, or just what is missing when a chunk no longer fits; false when even that does not. */
  private async takeMore(d: Deployment, kind: AllowanceKind, l: Lease, missing: number, limit: number): Promise<boolean> {
    const ref = { deploymentId: d.id, kind, windowStart: l.windowStart };
    const chunk = Math.max(missing, Math.ceil(limit * CHUNK_SHARE));
    let total = await this.takeFromStore(ref, l, chunk, limit);
    let got = chunk;
    if (total === undefined && chunk > missing) {
      total = await this.takeFromStore(ref, l, missing, limit);
      got = missing;
    }
    if (total === undefined) return false;
    // The minute may have turned while the database answered: what was taken then lapses with it.
    if (l.windowStart === ref.windowStart) {
      l.held += got;
      l.total = total;
    }
    return true;
  }

  /** One take from the store; one that fails is asked about at the next sweeps. */
  private async takeFromStore(ref: AllowanceRef, l: Lease, amount: number, limit: number): Promise<number | undefined> {
    const op = newOp(amount);
    try {
      return await this.store.take(ref, amount, limit, op.op);
    } catch (err) {
      l.unsure.push(op);
      throw err;
    }
  }

  settle(d: Deployment, reserved: number, used: number, admittedAt: number): void {
    const l = this.lease(d.id, "tokens");
    const extra = used - reserved;
    l.used += extra;
    if (d.tpm === undefined || extra === 0) return;
    if (extra < 0) {
      // Unused tokens of the minute they were taken in can serve other calls; an earlier minute's lapse.
      if (minute(admittedAt) === l.windowStart) l.held -= extra;
      return;
    }
    const fromHeld = Math.min(Math.max(0, l.held), extra);
    l.held -= fromHeld;
    if (fromHeld === extra) return;
    // Tokens already spent are counted, limit or not.
    void this.charge({ deploymentId: d.id, kind: "tokens", windowStart: l.windowStart }, l, newOp(extra - fromHeld));
  }

  private async charge(ref: AllowanceRef, l: Lease, op: AllowanceOp): Promise<void> {
    try {
      await this.store.charge(ref, op.amount, op.op);
    } catch (err) {
      l.uncharged.push(op);
      this.logger.error({ deployment: ref.deploymentId, err: driverMessage(err) }, "charging a deployment's tokens failed; trying again in a second");
    }
  }

  private async giveBack(ref: AllowanceRef, l: Lease, op: AllowanceOp): Promise<void> {
    try {
      await this.store.giveBack(ref, op.amount, op.op);
    } catch (err) {
      l.ungiven.push(op);
      this.logger.warn({ deployment: ref.deploymentId, err: driverMessage(err) }, "giving back a deployment's allowance failed; trying again in a second");
    }
  }

  /** Asks the store whether a take that failed was made; if it was, the lease holds it (and gives it back when idle). */
  private async confirm(ref: AllowanceRef, l: Lease, op: AllowanceOp): Promise<void> {
    try {
      if (await this.store.applied(op.op)) l.held += op.amount;
    } catch (err) {
      l.unsure.push(op);
      this.logger.warn({ deployment: ref.deploymentId, err: driverMessage(err) }, "asking whether a take of a deployment's allowance was made failed; asking again in a second");
    }
  }

  tokensUsed(d: Deployment): number {
    const l = this.lease(d.id, "tokens");
    return d.tpm === undefined ? l.used : Math.max(l.used, l.total - l.held);
  }

  /** Tries again the operations that failed, each as it was, gives back leases idle for a second, and forgets finished minutes. */
  private async sweep(): Promise<void> {
    const now = this.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = now;
      await this.store.prune(minute(now) - ROWS_KEPT_MS).catch((err: unknown) => this.logger.warn({ err: driverMessage(err) }, "deleting finished minutes' deployment allowances failed"));
    }
    for (const [key, l] of this.leases) {
      const kind = key.slice(0, key.indexOf(":")) as AllowanceKind;
      const ref = { deploymentId: key.slice(key.indexOf(":") + 1), kind, windowStart: l.windowStart };
      if (l.windowStart !== minute(now)) {
        this.leases.delete(key);
        continue;
      }
      const [charges, giveBacks, takes] = [l.uncharged.splice(0), l.ungiven.splice(0), l.unsure.splice(0)];
      for (const op of charges) await this.charge(ref, l, op);
      for (const op of giveBacks) await this.giveBack(ref, l, op);
      for (const op of takes) await this.confirm(ref, l, op);
      if (l.held <= 0 || now - l.lastUse < IDLE_GIVE_BACK_MS) continue;
      const amount = l.held;
      l.held = 0;
      await this.giveBack(ref, l, newOp(amount));
    }
  }

  /** Stops the sweeper and gives back everything held. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const l of this.leases.values()) l.lastUse = 0;
    await this.sweep();
  }
}
