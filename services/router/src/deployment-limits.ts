import { driverMessage, takeTogether, type Logger, type Taking } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import type { AllowanceKind, DeploymentAllowanceStore } from "./db/deployment-allowance-store.js";

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

/** One replica's share of one deployment's limit in one minute. */
interface Lease {
  windowStart: number;
  /** Taken from the shared total and not yet used by a call. */
  held: number;
  /** The shared total (all replicas) when this replica last took some. */
  total: number;
  /** Used by this replica's calls. */
  used: number;
  /** Tokens used past what was taken whose charge failed (the database down): charged again each second while the minute lasts. */
  owed: number;
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
      l = { windowStart, held: 0, total: 0, used: 0, owed: 0, lastUse: this.now(), taking: undefined };
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
    let total = await this.store.take(ref, chunk, limit);
    let got = chunk;
    if (total === undefined && chunk > missing) {
      total = await this.store.take(ref, missing, limit);
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
    void this.charge(d.id, l, extra - fromHeld);
  }

  private async charge(deploymentId: string, l: Lease, tokens: number): Promise<void> {
    try {
      await this.store.charge({ deploymentId, kind: "tokens", windowStart: l.windowStart }, tokens);
    } catch (err) {
      l.owed += tokens;
      this.logger.error({ deployment: deploymentId, err: driverMessage(err) }, "charging a deployment's tokens failed; trying again in a second");
    }
  }

  tokensUsed(d: Deployment): number {
    const l = this.lease(d.id, "tokens");
    return d.tpm === undefined ? l.used : Math.max(l.used, l.total - l.held);
  }

  /** Charges what failed to be charged, gives back leases idle for a second, and forgets finished minutes. */
  private async sweep(): Promise<void> {
    const now = this.now();
    for (const [key, l] of this.leases) {
      const kind = key.slice(0, key.indexOf(":")) as AllowanceKind;
      const deploymentId = key.slice(key.indexOf(":") + 1);
      if (l.windowStart !== minute(now)) {
        this.leases.delete(key);
        continue;
      }
      if (l.owed > 0) {
        const owed = l.owed;
        l.owed = 0;
        await this.charge(deploymentId, l, owed);
      }
      if (l.held <= 0 || now - l.lastUse < IDLE_GIVE_BACK_MS) continue;
      const amount = l.held;
      l.held = 0;
      try {
        await this.store.giveBack({ deploymentId, kind, windowStart: l.windowStart }, amount);
      } catch (err) {
        // Still taken in the database, so still this replica's to use, and to give back at the next sweep.
        l.held += amount;
        this.logger.warn({ deployment: deploymentId, err: driverMessage(err) }, "giving back a deployment's allowance failed; trying again in a second");
      }
    }
  }

  /** Stops the sweeper and gives back everything held. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const l of this.leases.values()) l.lastUse = 0;
    await this.sweep();
  }
}
