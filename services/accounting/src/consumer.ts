import { driverMessage, metrics, pgErrorCode, usageEventCodec, type Bus, type Consumer, type Delivery, type Logger } from "@gateway/common";
import type { UsageEvent } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { Ledger } from "./ledger.js";
import { unrecordable } from "./spend-log.js";

export const LEDGER_DURABLE = "accounting-ledger";
export const USAGE_SUBJECT = "usage.v1";
// Measured in bench/src/ledger-throughput.ts: batches of 2000, two in flight
// (one committing while the next is decoded and sent), keep Postgres busy
// on both of this machine's cores.
const MAX_BATCH = 2000;
const CONCURRENT_BATCHES = 2;
// At a trickle, gather a short while's events into one write rather than one
// statement per request (a ledger row shows up this much later).
const LINGER_MS = 25;

/**
 * Books every usage event on the bus into the ledger. A batch is acked only
 * after its rows are committed; when the write fails the batch is redelivered,
 * which the ledger's idempotence makes safe.
 */
export async function startLedgerConsumer(bus: Bus, ledger: Ledger, logger: Logger): Promise<Consumer> {
  const consumer = await bus.consume({ durable: LEDGER_DURABLE, subject: USAGE_SUBJECT, maxBatch: MAX_BATCH, concurrency: CONCURRENT_BATCHES, lingerMs: LINGER_MS }, async (batch) => {
    const events = decodeBatch(batch, logger);
    try {
      await book(ledger, events, logger);
    } catch (err) {
      logger.error({ err: briefly(err), events: events.length }, "ledger write failed; the batch will be redelivered");
      throw err;
    }
  });
  const unwatch = metrics.watchConsumer(LEDGER_DURABLE, () => consumer.lag());
  return {
    lag: () => consumer.lag(),
    stop: async () => {
      unwatch();
      await consumer.stop();
    },
  };
}

// A message that can never be booked is dropped with a log line: redelivering
// it would stall every usage event behind it.
function decodeBatch(batch: Delivery[], logger: Logger): UsageEvent[] {
  const events: UsageEvent[] = [];
  for (const delivery of batch) {
    let event: UsageEvent;
    try {
      event = usageEventCodec.decode(delivery.data);
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
    metrics.ledgerBooked(await ledger.record(events));
  } catch (err) {
    if (!isDataException(err)) throw err;
    for (const event of events) {
      try {
        metrics.ledgerBooked(await ledger.record([event]));
      } catch (eventErr) {
        if (!isDataException(eventErr)) throw eventErr;
        logger.error({ err: briefly(eventErr), requestId: event.requestId }, "skipping a usage event Postgres rejects");
      }
    }
  }
}

/**
 * What a failed write says, without the statement and its parameters that
 * driver errors carry: a whole batch of usage (stored prompts included) has
 * no place in a log line.
 */
function briefly(err: unknown): { message: string; code: string | undefined } {
  return { message: driverMessage(err), code: pgErrorCode(err) };
}

// SQLSTATE class 22, "data exception": the values are at fault, not the database.
function isDataException(err: unknown): boolean {
  return pgErrorCode(err)?.startsWith("22") ?? false;
}
