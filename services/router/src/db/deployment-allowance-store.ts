import { and, eq, lt, sql } from "drizzle-orm";
import type { Db } from "@gateway/common";
import { deploymentAllowances } from "./schema.js";

export type AllowanceKind = (typeof deploymentAllowances.kind.enumValues)[number];

export interface AllowanceRef {
  deploymentId: string;
  kind: AllowanceKind;
  windowStart: number;
}

/** What all router replicas together have taken of each deployment's rpm and tpm, per minute. One statement per method. */
export class DeploymentAllowanceStore {
  constructor(private readonly db: Db) {}

  /** Takes `amount` if the total stays within `limit`; the new total, or undefined when it would not fit. */
  async take(ref: AllowanceRef, amount: number, limit: number): Promise<number | undefined> {
    if (amount > limit) return undefined;
    const rows = await this.db
      .insert(deploymentAllowances)
      .values({ ...ref, granted: amount })
      .onConflictDoUpdate({
        target: [deploymentAllowances.deploymentId, deploymentAllowances.kind, deploymentAllowances.windowStart],
        set: { granted: sql`${deploymentAllowances.granted} + ${amount}` },
        setWhere: sql`${deploymentAllowances.granted} + ${amount} <= ${limit}`,
      })
      .returning({ granted: deploymentAllowances.granted });
    return rows[0]?.granted;
  }

  /** Adds usage that already happened, whatever the limit. */
  async charge(ref: AllowanceRef, amount: number): Promise<void> {
    await this.db
      .insert(deploymentAllowances)
      .values({ ...ref, granted: amount })
      .onConflictDoUpdate({
        target: [deploymentAllowances.deploymentId, deploymentAllowances.kind, deploymentAllowances.windowStart],
        set: { granted: sql`${deploymentAllowances.granted} + ${amount}` },
      });
  }

  /** Gives back what a replica took and did not use. */
  async giveBack(ref: AllowanceRef, amount: number): Promise<void> {
    await this.db
      .update(deploymentAllowances)
      .set({ granted: sql`GREATEST(0, ${deploymentAllowances.granted} - ${amount})` })
      .where(
        and(
          eq(deploymentAllowances.deploymentId, ref.deploymentId),
          eq(deploymentAllowances.kind, ref.kind),
          eq(deploymentAllowances.windowStart, ref.windowStart),
        ),
      );
  }

  /** Drops windows that ended before `before` (unix ms). */
  async prune(before: number): Promise<void> {
    await this.db.delete(deploymentAllowances).where(lt(deploymentAllowances.windowStart, before));
  }
}
