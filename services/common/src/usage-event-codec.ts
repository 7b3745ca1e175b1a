import { UsageEventSchema } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { flatCodec } from "./flat-codec.js";

/** The usage event's wire bytes, written by the router once per request and read by the ledger. */
export const usageEventCodec = flatCodec(UsageEventSchema);
