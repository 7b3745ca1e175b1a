import { randomUUID } from "node:crypto";
import { databaseUnreachable, driverMessage, pgErrorCode } from "./database.js";
import { FailureRun } from "./failure-run.js";
import type { Logger } from "./logger.js";
import type { SpendWrite } from "./spend-write.js";

/** Where settled spend is kept, per budget window (Postgres, beside the allowances). */
export interface SpendLedger<Ref> {
  idOf(ref: Ref): string;
  /**
   * Adds to a budget window's spend, unless `write`, or a later write of its
   * writer, was made already (see firstMaking): a write that failed is tried
   * again as the same write, and it may have failed after Postgres made it.
   */
  addSpend(ref: Ref, dollars: number, write: SpendWrite): Promise<void>;
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
 *
 * A write whose statement fails other than by Postgres refusing it may
 * still have been made (the connection closed after Postgres ran it), so it
 * is tried again as the same write, which the store makes only once, and
 * before any other: a later write made first would mark it as made whether
 * it was or not.
 */
export class BudgetSpend<Ref> {
  private pending = new Map<string, { ref: Ref; dollars: number }>();
  /** The write that failed last, made or not: the next one to try. */
  private inDoubt: { ref: Ref; dollars: number; seq: number } | undefined;
  /** This BudgetSpend as a writer (SpendWrite), and how many writes it has tried. */
  private readonly writerId = randomUUID();
  private writes = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly writer: NodeJS.Timeout;
  private readonly failures: FailureRun;

  constructor(
    private readonly store: SpendLedger<Ref>,
    logger: Logger,
  ) {
    this.failures = new FailureRun(logger, "budget spend writes");
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
      if (this.inDoubt && (await this.make(this.inDoubt)) === "in doubt") return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      for (const [i, { ref, dollars }] of batch.entries()) {
        if ((await this.make({ ref, dollars, seq: ++this.writes })) !== "in doubt") continue;
        // Not tried yet: back with what was added since, for the next write.
        for (const rest of batch.slice(i + 1)) this.add(rest.ref, rest.dollars);
        return;
      }
    });
    return this.writing;
  }

  /**
   * Makes one write. One that Postgres refused (it answered with an error)
   * was not made: its spend goes back to what is pending. One that failed
   * otherwise (the connection lost) may have been: it is kept as the one in
   * doubt.
   */
  private async make(write: { ref: Ref; dollars: number; seq: number }): Promise<"made" | "refused" | "in doubt"> {
    try {
      await this.store.addSpend(write.ref, write.dollars, { writer: this.writerId, seq: write.seq });
      this.inDoubt = undefined;
      this.failures.succeeded();
      return "made";
    } catch (err) {
      this.failures.failed({ err: driverMessage(err) }, "writing budget spend failed; it is tried again every second");
      if (pgErrorCode(err) !== undefined && !databaseUnreachable(err)) {
        this.inDoubt = undefined;
        this.add(write.ref, write.dollars);
        return "refused";
      }
      this.inDoubt = write;
      return "in doubt";
    }
  }

  async close(): Promise<void> {
    clearInterval(this.writer);
    await this.write();
  }
}
