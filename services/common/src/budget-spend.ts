import { driverMessage } from "./database.js";
import type { Logger } from "./logger.js";

/** Where settled spend is kept, per budget window (Postgres, beside the allowances). */
export interface SpendLedger<Ref> {
  idOf(ref: Ref): string;
  /** Adds to a budget window's spend. */
  addSpend(ref: Ref, dollars: number): Promise<void>;
  /** The spend of each window, in the order asked; 0 for one with none. */
  spend(refs: Ref[]): Promise<number[]>;
}

// How long settled spend may wait in memory before it is written.
const WRITE_EVERY_MS = 1_000;

/**
 * What settled requests cost, per key and budget period: the spend a budget
 * is held to, as /key/info shows it. Added up in memory and written every
 * second, so a Release never waits on the database; a reader first writes
 * this replica's share, so it sees all of it (and other replicas' up to a
 * second late).
 */
export class BudgetSpend<Ref> {
  private pending = new Map<string, { ref: Ref; dollars: number }>();
  private writing: Promise<void> = Promise.resolve();
  private readonly writer: NodeJS.Timeout;

  constructor(
    private readonly store: SpendLedger<Ref>,
    private readonly logger: Logger,
  ) {
    this.writer = setInterval(() => void this.write(), WRITE_EVERY_MS);
    this.writer.unref();
  }

  add(ref: Ref, dollars: number): void {
    if (dollars <= 0) return;
    const id = this.store.idOf(ref);
    const entry = this.pending.get(id);
    if (entry) entry.dollars += dollars;
    else this.pending.set(id, { ref, dollars });
  }

  /** The spend of each budget window, in the order asked. */
  async of(refs: Ref[]): Promise<number[]> {
    await this.write();
    return this.store.spend(refs);
  }

  /** Writes what is pending; one write at a time, so a reader that waits for it finds everything written. */
  write(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const batch = this.pending;
      this.pending = new Map();
      for (const { ref, dollars } of batch.values()) {
        await this.store.addSpend(ref, dollars).catch((err: unknown) => {
          this.logger.error({ err: driverMessage(err) }, "writing budget spend failed");
          this.add(ref, dollars);
        });
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    clearInterval(this.writer);
    await this.write();
  }
}
