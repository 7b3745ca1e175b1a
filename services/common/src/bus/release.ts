import { ReleaseRequestSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { flatCodec } from "../flat-codec.js";

/**
 * The live subject a keys replica hears Releases on for the reservations it
 * holds: Releases that reached another replica, and the router's own
 * settlement of calls whose caller may not have read what they used
 * (CompleteRequest.reservation_holder).
 */
export const releaseSubject = (holder: string) => `keys.release.${holder}`;

/** A Release's bytes on that subject: one per call on a key with limits, so compiled rather than reflected. */
export const releaseCodec = flatCodec(ReleaseRequestSchema);
