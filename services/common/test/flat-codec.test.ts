import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { FloatValueSchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { KeySpendResponseSchema } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { AuthorizeResponseSchema, ModelBudgetsSchema, VirtualKeySchema } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType, CompleteRequestSchema, CompleteResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { binaryCodec, flatCodec } from "../src/flat-codec.js";

const codec = flatCodec(UsageEventSchema);

// Strings with multi-byte characters and lone surrogates, numbers at their
// type's edges, timestamps before 1970 and far ahead.
const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary", maxLength: 300 }));
const uint32 = fc.oneof(fc.constantFrom(0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }));
const uint64 = fc.oneof(fc.constantFrom(0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const double = fc.oneof(fc.double(), fc.constantFrom(0, -0, 1e-300, Number.MAX_VALUE));
const timestamp = fc.option(
  fc.record({ seconds: fc.bigInt({ min: -62_135_596_800n, max: 253_402_300_799n }), nanos: fc.integer({ min: 0, max: 999_999_999 }) }),
  { nil: undefined },
);

const usageEvent: fc.Arbitrary<MessageInitShape<typeof UsageEventSchema>> = fc.record({
  requestId: text,
  keyHash: text,
  userId: text,
  teamId: text,
  modelGroup: text,
  deploymentId: text,
  provider: text,
  providerModel: text,
  promptTokens: uint32,
  completionTokens: uint32,
  totalTokens: uint32,
  cost: double,
  startTime: timestamp,
  endTime: timestamp,
  latencyMs: double,
  status: fc.constantFrom(UsageStatus.UNSPECIFIED, UsageStatus.SUCCESS, UsageStatus.FAILURE, 7),
  errorType: text,
  httpStatus: uint32,
  stream: fc.boolean(),
  usageEstimated: fc.boolean(),
  callType: text,
  keyAlias: text,
  messages: fc.oneof(fc.constant(""), fc.string({ maxLength: 20_000 })),
  response: text,
  originalModelGroup: text,
  attemptedFallbacks: uint32,
  endUser: text,
  cacheHit: fc.boolean(),
  cacheKey: text,
  requestTags: fc.array(text, { maxLength: 5 }),
});

const bytes = fc.uint8Array({ maxLength: 300 });

const completeRequest: fc.Arbitrary<MessageInitShape<typeof CompleteRequestSchema>> = fc.record({
  requestId: text,
  callType: fc.constantFrom(CallType.UNSPECIFIED, CallType.CHAT_COMPLETIONS, CallType.EMBEDDINGS, CallType.MESSAGES),
  body: bytes,
  keyHash: text,
  keyAlias: text,
  userId: text,
  teamId: text,
  endUser: text,
  requestTags: fc.array(text, { maxLength: 5 }),
  // A plain object's map: "__proto__" is not a key protobuf-es's can hold (the flat codec's keeps it, below).
  providerHeaders: fc.dictionary(text.filter((k) => k !== "__proto__"), text, { maxKeys: 5 }),
});

const completeResponse: fc.Arbitrary<MessageInitShape<typeof CompleteResponseSchema>> = fc.record({
  event: fc.oneof(
    fc.constant({ case: undefined }),
    fc.record({ case: fc.constant("started" as const), value: fc.record({ modelGroup: text, deploymentId: text, providerModel: text, attemptedRetries: uint32, attemptedFallbacks: uint32, cacheKey: text }) }),
    fc.record({ case: fc.constant("chunk" as const), value: bytes }),
    fc.record({ case: fc.constant("response" as const), value: bytes }),
    fc.record({ case: fc.constant("finished" as const), value: fc.record({ promptTokens: uint64, completionTokens: uint64, cost: double }) }),
    fc.record({ case: fc.constant("namedChunk" as const), value: fc.record({ name: text, data: bytes }) }),
  ),
});

// Maps keyed by names users give, as lists of entries (entries.proto).
const authorizeResponse: fc.Arbitrary<MessageInitShape<typeof AuthorizeResponseSchema>> = fc.record({
  keyHash: text,
  models: fc.array(text, { maxLength: 3 }),
  modelAliases: fc.array(fc.record({ key: fc.oneof(text, fc.constantFrom("__proto__", "constructor")), value: text }), { maxLength: 4 }),
  reusableUntilMs: double,
});

const keySpendResponse: fc.Arbitrary<MessageInitShape<typeof KeySpendResponseSchema>> = fc.record({
  spend: fc.array(fc.record({ key: text, value: double }), { maxLength: 3 }),
  teamSpend: fc.array(fc.record({ key: fc.constantFrom("__proto__", "toString", "team"), value: double }), { maxLength: 3 }),
});

const modelBudgets: fc.Arbitrary<MessageInitShape<typeof ModelBudgetsSchema>> = fc.record({
  budgets: fc.array(fc.record({ key: text, value: fc.option(fc.record({ budgetLimit: double, timePeriod: text }), { nil: undefined }) }), { maxLength: 3 }),
});

describe("flatCodec", () => {
  it("writes exactly the bytes protobuf-es writes", () => {
    fc.assert(
      fc.property(usageEvent, (init) => {
        const message = create(UsageEventSchema, init);
        expect(Buffer.from(codec.encode(init)).equals(Buffer.from(toBinary(UsageEventSchema, message)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("reads back what protobuf-es reads", () => {
    fc.assert(
      fc.property(usageEvent, (init) => {
        const bytes = toBinary(UsageEventSchema, create(UsageEventSchema, init));
        const decoded = codec.decode(bytes);
        // toEqual, not protobuf-es's equals: NaN must read back as NaN.
        expect(decoded).toEqual(fromBinary(UsageEventSchema, bytes));
        expect(decoded.$typeName).toBe(UsageEventSchema.typeName);
        if (decoded.startTime) expect(decoded.startTime.$typeName).toBe(TimestampSchema.typeName);
      }),
      { numRuns: 500 },
    );
  });

  it("gives each encoding bytes of its own", () => {
    const first = codec.encode({ requestId: "first", promptTokens: 1 });
    const second = codec.encode({ requestId: "second, and longer", promptTokens: 2 });
    expect(codec.decode(first)).toMatchObject({ requestId: "first", promptTokens: 1 });
    expect(codec.decode(second)).toMatchObject({ requestId: "second, and longer", promptTokens: 2 });
  });

  it("skips fields it does not know, as an older consumer must", () => {
    // Field 99, length-delimited, then field 98, a varint, in front of a known field.
    const unknown = Uint8Array.from([(99 << 3) | 2, 0x03, 1, 2, 3, 0x90, 0x06, 0x96, 0x01]);
    const known = codec.encode({ requestId: "r-1", promptTokens: 7 });
    const decoded = codec.decode(Uint8Array.from([...unknown, ...known]));
    expect(decoded.requestId).toBe("r-1");
    expect(decoded.promptTokens).toBe(7);
  });

  it("refuses truncated input instead of inventing values", () => {
    // One field only: cut anywhere, a value is left incomplete.
    const bytes = codec.encode({ startTime: { seconds: 1_700_000_000n, nanos: 5 } });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => codec.decode(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow();
    }
  });

  it("refuses schemas with fields of explicit presence when it is built", () => {
    expect(() => flatCodec(VirtualKeySchema)).toThrow(/flat messages do not have/);
  });

  it("keeps a map key __proto__ as the map's own key", () => {
    const headers = JSON.parse('{"__proto__": "a", "x-b": "b"}') as Record<string, string>;
    const decoded = flatCodec(CompleteRequestSchema).decode(flatCodec(CompleteRequestSchema).encode({ providerHeaders: headers }));
    expect(Object.entries(decoded.providerHeaders)).toEqual([["__proto__", "a"], ["x-b", "b"]]);
    expect(Object.getPrototypeOf(decoded.providerHeaders)).toBe(Object.prototype);
  });
});

/** What encoding a message comes to: its bytes, or the error's class and message. */
function outcome(encode: () => Uint8Array): { bytes: string } | { error: [string, string] } {
  try {
    return { bytes: Buffer.from(encode()).toString("hex") };
  } catch (e) {
    return { error: [(e as Error).constructor.name, (e as Error).message] };
  }
}

/** The outcome of the flat codec's encode, after checking it is toBinary's. */
function sameAsToBinary<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): ReturnType<typeof outcome> {
  const flat = outcome(() => flatCodec(schema).encode(init));
  expect(flat).toEqual(outcome(() => toBinary(schema, create(schema, init))));
  return flat;
}

// A field's type stands for a range the value's JavaScript type is wider
// than: a number out of a 32-bit integer's range, or a fraction, would be
// written as some other number if it were written.
describe("flatCodec with a value outside its field's type", () => {
  const refused = (field: string, why: string) => ({ error: ["Error", `cannot encode field ${field} to binary: ${why}`] });

  it("refuses it as toBinary does", () => {
    const cases: [MessageInitShape<typeof UsageEventSchema>, string, string][] = [
      [{ promptTokens: -1 }, "gateway.usage.v1.UsageEvent.prompt_tokens", "invalid uint32: -1"],
      [{ promptTokens: 2 ** 32 }, "gateway.usage.v1.UsageEvent.prompt_tokens", "invalid uint32: 4294967296"],
      [{ httpStatus: 200.5 }, "gateway.usage.v1.UsageEvent.http_status", "invalid uint32: 200.5"],
      [{ httpStatus: NaN }, "gateway.usage.v1.UsageEvent.http_status", "invalid uint32: NaN"],
      [{ status: 2 ** 31 }, "gateway.usage.v1.UsageEvent.status", "invalid int32: 2147483648"],
      [{ status: -(2 ** 31) - 1 }, "gateway.usage.v1.UsageEvent.status", "invalid int32: -2147483649"],
      [{ startTime: { seconds: 1n, nanos: 1.5 } }, "google.protobuf.Timestamp.nanos", "invalid int32: 1.5"],
      [{ startTime: { seconds: 2n ** 63n } }, "google.protobuf.Timestamp.seconds", "invalid int64: 9223372036854775808"],
      [{ startTime: { seconds: -(2n ** 63n) - 1n } }, "google.protobuf.Timestamp.seconds", "invalid int64: -9223372036854775809"],
    ];
    for (const [init, field, why] of cases) expect(sameAsToBinary(UsageEventSchema, init), why).toEqual(refused(field, why));
    const finished = (promptTokens: bigint) => ({ event: { case: "finished" as const, value: { promptTokens } } });
    expect(sameAsToBinary(CompleteResponseSchema, finished(-1n))).toEqual(refused("gateway.router.v1.Finished.prompt_tokens", "invalid uint64: -1"));
    expect(sameAsToBinary(CompleteResponseSchema, finished(2n ** 64n))).toEqual(
      refused("gateway.router.v1.Finished.prompt_tokens", "invalid uint64: 18446744073709551616"),
    );
    // No message of ours has a float; the wrapper type has one.
    expect(sameAsToBinary(FloatValueSchema, { value: 1e39 })).toEqual(refused("google.protobuf.FloatValue.value", "invalid float32: 1e+39"));
    expect(sameAsToBinary(FloatValueSchema, { value: Infinity })).toHaveProperty("bytes");
  });

  it("refuses what toBinary refuses and writes what it writes, for any number", () => {
    const wide = fc.oneof(fc.double(), fc.integer({ min: -(2 ** 33), max: 2 ** 33 }), fc.constantFrom(2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53));
    const wideLong = fc.oneof(fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }), fc.constantFrom(2n ** 63n, 2n ** 64n, -(2n ** 63n) - 1n));
    fc.assert(
      fc.property(wide, wide, wide, wideLong, (tokens, status, nanos, seconds) => {
        sameAsToBinary(UsageEventSchema, { promptTokens: tokens, status, startTime: { seconds, nanos } });
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(wideLong, (promptTokens) => {
        sameAsToBinary(CompleteResponseSchema, { event: { case: "finished", value: { promptTokens } } });
      }),
      { numRuns: 300 },
    );
  });

  it("writes a string of a number in range as toBinary does, which takes one", () => {
    expect(sameAsToBinary(UsageEventSchema, { promptTokens: "300" as never, status: "-2" as never })).toHaveProperty("bytes");
  });
});

// The messages of a Complete call: a map of headers, and a oneof whose set
// field is written even when its value is a default (an empty chunk); and
// lists of messages, the entries of maps keyed by names users give.
describe.each([
  { name: "CompleteRequest", schema: CompleteRequestSchema, arbitrary: completeRequest },
  { name: "CompleteResponse", schema: CompleteResponseSchema, arbitrary: completeResponse },
  { name: "AuthorizeResponse", schema: AuthorizeResponseSchema, arbitrary: authorizeResponse },
  { name: "KeySpendResponse", schema: KeySpendResponseSchema, arbitrary: keySpendResponse },
  { name: "ModelBudgets", schema: ModelBudgetsSchema, arbitrary: modelBudgets },
] as const)("flatCodec of $name", ({ schema, arbitrary }) => {
  const messageCodec = flatCodec(schema);

  it("writes exactly the bytes protobuf-es writes", () => {
    fc.assert(
      fc.property(arbitrary, (init) => {
        const expected = toBinary(schema, create(schema, init as never));
        expect(Buffer.from(messageCodec.encode(init as never)).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("reads back what protobuf-es reads", () => {
    fc.assert(
      fc.property(arbitrary, (init) => {
        const encoded = toBinary(schema, create(schema, init as never));
        expect(messageCodec.decode(encoded)).toEqual(fromBinary(schema, encoded));
      }),
      { numRuns: 300 },
    );
  });
});

describe("binaryCodec", () => {
  it("uses protobuf-es for a schema that is not flat, taking a message or its fields", () => {
    const codec = binaryCodec(VirtualKeySchema);
    const decoded = codec.decode(codec.encode({ keyHash: "h", spend: 0.5, modelRpmLimit: [{ key: "__proto__", value: 7 }] }));
    expect([decoded.keyHash, decoded.spend, decoded.modelRpmLimit.map((e) => [e.key, e.value])]).toEqual(["h", 0.5, [["__proto__", 7]]]);
  });

  it("reads a map entry that leaves out its key or value as the defaults", () => {
    // provider_headers (8): one entry with only its value, one with only its key.
    const entries = Uint8Array.from([(8 << 3) | 2, 3, (2 << 3) | 2, 1, 0x61, (8 << 3) | 2, 3, (1 << 3) | 2, 1, 0x62]);
    expect(binaryCodec(CompleteRequestSchema).decode(entries).providerHeaders).toEqual({ "": "a", b: "" });
    expect(fromBinary(CompleteRequestSchema, entries).providerHeaders).toEqual({ "": "a", b: "" });
  });
});
