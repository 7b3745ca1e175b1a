import { eq } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { bookedBatches } from "./schema.js";

/** Which finished batches have been booked; one statement per method. */
export class BatchBookings {
  constructor(private readonly db: Db) {}

  /** Takes the booking of a batch: true for the one caller that takes it, false once it is taken. */
  async claim(batch: string): Promise<boolean> {
    const rows = await this.db.insert(bookedBatches).values({ batch }).onConflictDoNothing().returning({ batch: bookedBatches.batch });
    return rows.length > 0;
  }

  /** Gives a booking back when its cost could not be read, for a later read to book. */
  async unclaim(batch: string): Promise<void> {
    await this.db.delete(bookedBatches).where(eq(bookedBatches.batch, batch));
  }
}
