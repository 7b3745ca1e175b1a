import { ReleaseRequestSchema, type ReleaseRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { flatCodec } from "../flat-codec.js";
import type { Logger } from "../logger.js";
import { BusClosedError, NoListenerError, type Bus } from "./bus.js";

/**
 * The live subject a keys replica hears Releases on for the reservations it
 * holds: Releases that reached another replica, and the router's own
 * settlement of calls whose caller may not have read what they used
 * (CompleteRequest.reservation_holder).
 */
export const releaseSubject = (holder: string) => `keys.release.${holder}`;

/** A Release's bytes on that subject: one per call on a key with limits, so compiled rather than reflected. */
export const releaseCodec = flatCodec(ReleaseRequestSchema);

// Each try waits this long for the holder to take the Release.
const TRY_TIMEOUT_MS = 1_000;
const FIRST_PAUSE_MS = 250;
const LONGEST_PAUSE_MS = 5_000;
// Nobody listening for this long: the holder stopped or died (its parallel
// slots come back when its row in keys.holders lapses).
const NO_LISTENER_FOR_MS = 30_000;
// By then the holder has settled the reservation as fully used (Limits'
// ABANDONED_AFTER_MS): a later Release finds nothing to settle.
const GIVE_UP_AFTER_MS = 15 * 60_000;

/**
 * Hands a Release to the keys replica holding its reservation, trying again
 * until that replica has taken it: one lost in a NATS reconnect would keep
 * its parallel slot taken and its budget reserved until the holder gives
 * the reservation up (15 minutes, charged as fully used). The holder settles
 * a request once, so a Release that arrives twice is harmless.
 */
export async function sendRelease(bus: Bus, release: ReleaseRequest, logger: Logger): Promise<void> {
  const data = releaseCodec.encode(release);
  const subject = releaseSubject(release.holder);
  const began = Date.now();
  let unheardSince: number | undefined;
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
    try {
      await bus.deliver(subject, data, TRY_TIMEOUT_MS);
      return;
    } catch (err) {
      if (err instanceof BusClosedError) return;
      const now = Date.now();
      unheardSince = err instanceof NoListenerError ? (unheardSince ?? now) : undefined;
      if (now - began >= GIVE_UP_AFTER_MS || (unheardSince !== undefined && now - unheardSince >= NO_LISTENER_FOR_MS)) {
        logger.warn({ requestId: release.requestId, holder: release.holder, err: (err as Error).message }, "a Release did not reach the keys replica holding its reservation");
        return;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pause).unref());
  }
}
