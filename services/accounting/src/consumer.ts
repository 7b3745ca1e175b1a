import { fromBinary } from "@bufbuild/protobuf";
import { pgErrorCode, type Bus, type Consumer, type Delivery, type Logger } from "@gateway/common";
import { UsageEventSchema, type UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { Ledger } from "./ledger.js";
import { unrecordable } from "./spend-log.js";

export const LEDGER_DURABLE = "accounting-ledger";
export const USAGE_SUBJECT = "usage.v1";
const MAX_BATCH = 500;

/**
 * Books every usage event on the bus into the ledger. A batch is acked only
 * after its rows are committed; when the write fails the batch is redelivered,
 * which the ledger's idempotence makes safe.
 */
export function startLedgerConsumer(bus: Bus, ledger: Ledger, logger: Logger): Promise<Consumer> {
  return bus.consume({ durable: LEDGER_DURABLE, subject: USAGE_SUBJECT, maxBatch: MAX_BATCH }, async (batch) => {
    const events = decodeBatch(batch, logger);
    try {
      await book(ledger, events, logger);
    } catch (err) {
      logger.error({ err, events: events.length }, "ledger write failed; the batch will be redelivered");
      throw err;
    }
  });
}

// A message that can never be booked is dropped with a log line: redelivering
// it would stall every usage event behind it.
function decodeBatch(batch: Delivery[], logger: Logger): UsageEvent[] {
  const events: UsageEvent[] = [];
  for (const delivery of batch) {
    let event: UsageEvent;
    try {
      event = fromBinary(UsageEventSchema, delivery.data);
    } catch (err) {
      logger.warn({ err, subject: delivery.subject }, "skipping a usage message that does not decode");
      continue;
    }
    const problem = unrecordable(event);
    if (problem === undefined) events.push(event);
    else logger.warn({ requestId: event.requestId, problem }, "skipping a usage event the ledger cannot book");
  }
  return events;
}

/**
 * Writes the batch in one statement. When Postgres rejects a value (a NUL in
 * a string, a token count beyond integer range) the batch would fail the same
 * way on every redelivery, so its events are retried one by one and only the
 * rejected ones are dropped.
 */
async function book(ledger: Ledger, events: UsageEvent[], logger: Logger): Promise<void> {
  try {
    await ledger.record(events);
  } catch (err) {
    if (!isDataException(err)) throw err;
    for (const event of events) {
      try {
        await ledger.record([event]);
      } catch (eventErr) {
        if (!isDataException(eventErr)) throw eventErr;
        logger.error({ err: eventErr, requestId: event.requestId }, "skipping a usage event Postgres rejects");
      }
    }
  }
}

// SQLSTATE class 22, "data exception": the values are at fault, not the database.
function isDataException(err: unknown): boolean {
  return pgErrorCode(err)?.startsWith("22") ?? false;
}
