import type { MessageInitShape } from "@bufbuild/protobuf";
import { driverMessage, type Logger } from "@gateway/common";
import { UsageStatus, type UsageEventSchema } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { BatchBookings } from "./db/batch-bookings.js";
import type { BookingRecovery } from "./db/schema.js";
import { timestamp, type UsagePublisher } from "./usage-publisher.js";

// Batch bookings whose call claimed them and then never wrote its usage
// event (its router died in between) are booked here, on every router
// replica every few minutes: one usage event per lost call, with that
// call's request id and start, so that a call whose event did get out after
// all (from its outbox, on restart) keeps its one ledger row.

const SWEEP_EVERY_MS = 5 * 60_000;

/** The usage event a call that claimed these batches would have written for them (end users kept when `endUsers`). */
export function recoveredEvent(bookings: readonly BookingRecovery[], endUsers: boolean): MessageInitShape<typeof UsageEventSchema> {
  const first = bookings[0]!;
  const sum = (field: "promptTokens" | "completionTokens" | "cachedTokens" | "cost") => bookings.reduce((total, b) => total + b[field], 0);
  const promptTokens = sum("promptTokens");
  const completionTokens = sum("completionTokens");
  const at = timestamp(first.startMs);
  return {
    requestId: first.requestId,
    keyHash: first.keyHash,
    keyAlias: first.keyAlias,
    userId: first.userId,
    teamId: first.teamId,
    endUser: endUsers ? first.endUser : "",
    requestTags: first.requestTags,
    modelGroup: first.modelGroup,
    originalModelGroup: first.modelGroup,
    deploymentId: first.deploymentId,
    provider: first.provider,
    providerModel: first.providerModel,
    callType: first.callType,
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cacheReadInputTokens: sum("cachedTokens"),
    cost: sum("cost"),
    startTime: at,
    endTime: at,
    status: UsageStatus.SUCCESS,
    httpStatus: 200,
  };
}

/** Sweeps lapsed batch claims into the ledger, now and then, until stopped. */
export class BatchRecovery {
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly bookings: BatchBookings,
    private readonly publisher: UsagePublisher,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS).unref();
  }

  /** One sweep (one at a time); failures are logged and the next sweep tries again. */
  sweep(): Promise<void> {
    this.sweeping ??= this.bookings
      .sweep((bookings) => this.publisher.publish(recoveredEvent(bookings, this.publisher.bookEndUsers)))
      .then(
        (booked) => {
          if (booked > 0) this.logger.warn({ batches: booked }, "booked finished batches whose claiming call never wrote its usage event");
        },
        (err: unknown) => this.logger.warn({ err: driverMessage(err) }, "could not sweep lapsed batch bookings; the next sweep tries again"),
      )
      .finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Stops sweeping; waits for a sweep under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }
}
