import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ReleaseRequestSchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { CompleteResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import { describe, expect, it } from "vitest";
import { releaseCodec } from "../src/bus/release.js";
import { binaryCodec } from "../src/flat-codec.js";
import { tokensOnWire } from "../src/tokens.js";

// A Batch API call books the finished batches it sees: their requests' sums
// pass 2^32, and the Finished event and the Release that carry them between
// split services kept only the low 32 bits (uint32 fields). Both hops are
// checked: the flat codec's bytes read by protobuf-es, and the other way.
const PAST_2_32 = 2n ** 32n + 5n;

describe("token sums between split services", () => {
  it("carries a Finished event's counts past 2^32 whole", () => {
    const codec = binaryCodec(CompleteResponseSchema);
    const init = { event: { case: "finished" as const, value: { promptTokens: PAST_2_32, completionTokens: 3n * 2n ** 32n, cost: 1.5 } } };
    const bytes = codec.encode(init);
    for (const decoded of [codec.decode(bytes), fromBinary(CompleteResponseSchema, bytes), codec.decode(toBinary(CompleteResponseSchema, create(CompleteResponseSchema, init)))]) {
      expect(decoded.event).toMatchObject({ case: "finished", value: { promptTokens: PAST_2_32, completionTokens: 3n * 2n ** 32n, cost: 1.5 } });
    }
  });

  it("carries a Release's total past 2^32 whole, for the key's tokens-per-minute count", () => {
    const bytes = releaseCodec.encode(create(ReleaseRequestSchema, { requestId: "big-batch", holder: "replica-1", totalTokens: PAST_2_32 }));
    expect(releaseCodec.decode(bytes).totalTokens).toBe(PAST_2_32);
    expect(fromBinary(ReleaseRequestSchema, bytes).totalTokens).toBe(PAST_2_32);
  });

  it("puts a count on the wire as a whole number, never throwing mid-answer", () => {
    expect(tokensOnWire(16 * 2 ** 28 + 3)).toBe(PAST_2_32 - 2n);
    expect(tokensOnWire(7.9)).toBe(7n);
    for (const odd of [-3, NaN, Infinity]) expect(tokensOnWire(odd)).toBe(0n);
  });
});
