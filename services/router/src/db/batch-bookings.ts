import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { rowsOf, type Db } from "@gateway/common";
import { bookedBatches, type BookingRecovery } from "./schema.js";

// Claims older than this, still unconfirmed, are taken to have lost their
// call: a claim is confirmed within a call, right after the output file it
// books has been read, and that read is bounded by the deployment's timeout.
const CLAIM_LAPSES_MS = 10 * 60_000;

/** Which finished batches have been booked; one statement per method, the sweep one transaction. */
export class BatchBookings {
  constructor(private readonly db: Db) {}

  /** Of these batches, those already claimed. */
  async claimed(batches: readonly string[]): Promise<Set<string>> {
    if (batches.length === 0) return new Set();
    const rows = await this.db.select({ batch: bookedBatches.batch }).from(bookedBatches).where(inArray(bookedBatches.batch, [...batches]));
    return new Set(rows.map((r) => r.batch));
  }

  /** Takes the booking of a batch, with what the call books for it: true for the one caller that takes it, false once it is taken. */
  async claim(batch: string, recovery: BookingRecovery): Promise<boolean> {
    const rows = await this.db.insert(bookedBatches).values({ batch, booked: false, recovery }).onConflictDoNothing().returning({ batch: bookedBatches.batch });
    return rows.length > 0;
  }

  /** The claiming call's usage event is written: these bookings are done. */
  async confirm(batches: readonly string[]): Promise<void> {
    await this.db
      .update(bookedBatches)
      .set({ booked: true, recovery: null })
      .where(inArray(bookedBatches.batch, [...batches]));
  }

  /** Gives back claims of a call that failed before its usage event carried them, for a later read to book. */
  async release(batches: readonly string[]): Promise<void> {
    await this.db.delete(bookedBatches).where(and(inArray(bookedBatches.batch, [...batches]), eq(bookedBatches.booked, false)));
  }

  /**
   * Books the claims whose calls never confirmed them (their router died
   * between claiming and writing the usage event): `book` gets each such
   * call's bookings, all of them at once (one usage event per call, as the
   * call would have written), and they are confirmed in the same
   * transaction. One replica sweeps at a time; the others find it busy and
   * sweep nothing. Booking a call whose event did get out is harmless: the
   * ledger keeps one row per request id and start.
   */
  async sweep(book: (bookings: BookingRecovery[]) => void): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [turn] = rowsOf<{ taken: boolean }>(await tx.execute(sql`SELECT pg_try_advisory_xact_lock(hashtext('router:batch-bookings-sweep')) AS taken`));
      if (!turn?.taken) return 0;
      const rows = await tx
        .select({ batch: bookedBatches.batch, recovery: bookedBatches.recovery })
        .from(bookedBatches)
        .where(and(eq(bookedBatches.booked, false), lt(bookedBatches.bookedAt, sql`now() - make_interval(secs => ${CLAIM_LAPSES_MS / 1000})`)))
        .for("update");
      if (rows.length === 0) return 0;
      const byCall = new Map<string, BookingRecovery[]>();
      for (const { recovery } of rows) {
        if (!recovery) continue;
        const call = byCall.get(recovery.requestId) ?? [];
        call.push(recovery);
        byCall.set(recovery.requestId, call);
      }
      for (const bookings of byCall.values()) book(bookings);
      await tx
        .update(bookedBatches)
        .set({ booked: true, recovery: null })
        .where(inArray(bookedBatches.batch, rows.map((r) => r.batch)));
      return rows.length;
    });
  }
}
