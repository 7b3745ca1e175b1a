import { sql } from "drizzle-orm";
import { driverMessage, type Allowances, type Db, type Logger } from "@gateway/common";
import type { AllowanceRef } from "./allowance-store.js";
import { allowances, holders, parallelHolds } from "./db/schema.js";

export interface HolderTimes {
  /** How often a replica renews its row (and gives back the slots of replicas taken for dead). */
  beatMs: number;
  /** How long a row stays alive unrenewed: past that, its replica is taken for dead. */
  aliveForMs: number;
}

const TIMES: HolderTimes = { beatMs: 5_000, aliveForMs: 30_000 };

/**
 * Keeps this keys replica's row in keys.holders alive, and gives back the
 * parallel slots of replicas whose rows lapsed (killed, or cut off from
 * Postgres for longer than aliveForMs), which would otherwise stay taken
 * for good: parallel slots have no window to end. Every replica does it;
 * each dead replica's part is given back once. A replica that finds its own
 * row gone (it stalled that long) holds again the slots its requests in
 * flight use.
 */
export class ParallelHolders {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly holder: string,
    private readonly allowances: Allowances<AllowanceRef>,
    private readonly logger: Logger,
    private readonly times: HolderTimes = TIMES,
  ) {}

  /** Registers this replica (before it takes any slot) and starts renewing. */
  async start(): Promise<void> {
    await this.register();
    this.timer = setInterval(() => {
      this.beat().catch((err: unknown) => this.logger.error({ err: driverMessage(err) }, "renewing this replica's parallel slots failed"));
    }, this.times.beatMs);
    this.timer.unref();
  }

  private register(): Promise<unknown> {
    return this.db
      .insert(holders)
      .values({ holder: this.holder, aliveUntil: this.aliveUntil() })
      .onConflictDoUpdate({ target: holders.holder, set: { aliveUntil: this.aliveUntil() } });
  }

  private aliveUntil() {
    return sql`now() + ${`${this.times.aliveForMs} milliseconds`}::interval`;
  }

  async beat(): Promise<void> {
    const renewed = await this.db.update(holders).set({ aliveUntil: this.aliveUntil() }).where(sql`${holders.holder} = ${this.holder}`).returning({ holder: holders.holder });
    if (renewed.length === 0) {
      this.logger.warn("this keys replica was taken for dead (no renewal within its time); holding again the parallel slots of its requests in flight");
      await this.register();
      await this.allowances.reclaim((ref) => ref.kind === "parallel");
    }
    await this.giveBackFor(false);
  }

  /**
   * Gives back the parts of replicas taken for dead (and of this one, when
   * it stops): their rows and parts go, and the totals drop by the parts.
   * Parts whose replica has no row at all (it died before this version
   * recorded it) go too. Parallel allowances all have window 0.
   */
  private async giveBackFor(itself: boolean): Promise<void> {
    await this.db.execute(sql`
      WITH dead AS (
        DELETE FROM ${holders} WHERE alive_until < now() OR (${itself} AND holder = ${this.holder}) RETURNING holder
      ), gone AS (
        DELETE FROM ${parallelHolds} p
        WHERE p.holder IN (SELECT holder FROM dead) OR NOT EXISTS (SELECT 1 FROM ${holders} h WHERE h.holder = p.holder)
        RETURNING p.key_id, p.held
      )
      UPDATE ${allowances} a SET granted = GREATEST(0, a.granted - g.held)
      FROM (SELECT key_id, sum(held) AS held FROM gone GROUP BY key_id) g
      WHERE a.key_id = g.key_id AND a.kind = 'parallel' AND a.window_start = 0`);
  }

  /** Stops renewing and gives back whatever this replica's part still holds. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.giveBackFor(true);
  }

  /** Stops renewing and leaves this replica's part taken, for the other replicas to give back once its row lapses: calls it admitted may still run. */
  leave(): void {
    clearInterval(this.timer);
  }
}
