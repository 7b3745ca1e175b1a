import { create, fromBinary, protoInt64, ScalarType, toBinary, type DescField, type DescMessage, type DescOneof, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { BinaryWriter, FLOAT32_MAX } from "@bufbuild/protobuf/wire";
import { messageOf } from "./message-of.js";

/**
 * Binary protobuf for "flat" messages: singular scalar, enum and message
 * fields, oneofs of such fields, maps from strings to scalars and lists of
 * strings or of flat messages; no other lists.
 * That is the per-request usage event and the messages of a Complete call.
 * The bytes are what protobuf-es's toBinary writes (a oneof's field is
 * written where the oneof's lowest field number would be), and decode reads
 * anything fromBinary reads for such a message (unknown fields are skipped).
 * A value toBinary refuses (a uint32 out of range, say) is refused with the
 * error toBinary throws.
 * It exists for speed: protobuf-es walks a message through its reflection
 * API on every call (about 10 µs to encode and 7 µs to decode a usage event
 * here), where this generates one encoder and one decoder per schema, once
 * (about 1 µs each way).
 */
export interface FlatCodec<Desc extends DescMessage> {
  encode(message: MessageInitShape<Desc>): Uint8Array;
  decode(bytes: Uint8Array): MessageShape<Desc>;
}

type Json = Record<string, unknown>;

interface FieldCodec {
  localName: string;
  number: number;
  /** Writes the field's tag and value (a field with implicit presence only when the value is not its default). */
  write(w: Writer, value: unknown): void;
  /** Reads the value at the reader's position, given the wire type it came with. */
  read(r: Reader, wireType: number): unknown;
}

/** A property of the message: one field, or a oneof or map, which take several tags or entries. */
interface MemberCodec {
  localName: string;
  /** The field numbers whose tags this member reads. */
  numbers: number[];
  /** Source of the member's value in a message that has none of its fields. */
  initial: string;
  write(w: Writer, value: unknown): void;
  /** Reads one of the member's fields; `current` is the member's value so far. */
  read(r: Reader, wireType: number, number: number, current: unknown): unknown;
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Compiles a codec for a flat message schema; throws for a schema with fields it cannot handle. */
export function flatCodec<Desc extends DescMessage>(schema: Desc): FlatCodec<Desc> {
  const compiled = compile(schema);
  return {
    encode(message) {
      const w = writer;
      w.pos = 0;
      compiled.writeFields(w, message as Json);
      // A copy: the writer's buffer is written over by the next encode. A
      // small Buffer comes out of Node's shared pool instead of an
      // allocation of its own.
      const bytes = Buffer.allocUnsafe(w.pos);
      w.buf.copy(bytes, 0, 0, w.pos);
      return bytes;
    },
    decode(bytes) {
      const r = new Reader(bytes);
      return compiled.read(r, bytes.length) as MessageShape<Desc>;
    },
  };
}

interface CompiledMessage {
  writeFields(w: Writer, message: Json): void;
  /** Reads fields up to `end` into a new message. */
  read(r: Reader, end: number): Json;
}

const binaryCodecs = new Map<string, FlatCodec<DescMessage>>();

/**
 * The binary codec for any message: the flat codec when the schema is flat,
 * protobuf-es's reflection otherwise. Made once per schema. Encode takes a
 * message or its fields.
 */
export function binaryCodec<Desc extends DescMessage>(schema: Desc): FlatCodec<Desc> {
  let codec = binaryCodecs.get(schema.typeName);
  if (!codec) {
    try {
      codec = flatCodec(schema);
    } catch {
      codec = { encode: (message) => toBinary(schema, messageOf(schema, message)), decode: (bytes) => fromBinary(schema, bytes) };
    }
    binaryCodecs.set(schema.typeName, codec);
  }
  return codec as FlatCodec<Desc>;
}

const compiledByType = new Map<string, CompiledMessage>();

/** Schemas being compiled: a message that contains itself is compiled at its first use. */
const compiling = new Set<string>();

function compile(schema: DescMessage): CompiledMessage {
  const known = compiledByType.get(schema.typeName);
  if (known) return known;
  const zero = create(schema) as Json;
  let members: MemberCodec[];
  compiling.add(schema.typeName);
  try {
    members = schema.members
      .map((member): MemberCodec => {
        if (member.kind === "oneof") return oneofCodec(member);
        if (member.fieldKind === "map") return mapCodec(member);
        return member.fieldKind === "list" ? listCodec(member) : fieldMember(member);
      })
      .sort((a, b) => Math.min(...a.numbers) - Math.min(...b.numbers));
  } finally {
    compiling.delete(schema.typeName);
  }
  const defaults = members.map((m) => zero[m.localName]);
  const name = (m: MemberCodec) => JSON.stringify(m.localName);
  // Each schema's two functions are generated once, as source: a fixed
  // property name makes every load and store a plain one (a loop over
  // names makes them megamorphic), and a decoded message is one object
  // literal, so every message of a type shares one shape.
  const writeFields = new Function(
    "members",
    `return function writeFields(w, m) {
  let v;
${members.map((m, i) => `  v = m[${name(m)}]; if (v !== undefined) members[${i}].write(w, v);`).join("\n")}
};`,
  )(members) as CompiledMessage["writeFields"];
  const read = new Function(
    "members",
    "defaults",
    "typeName",
    `return function read(r, end) {
${members.map((m, i) => `  let v${i} = ${m.initial.replace("$default", `defaults[${i}]`)};`).join("\n")}
  while (r.pos < end) {
    const tag = r.varint32();
    switch (tag >>> 3) {
${members.flatMap((m, i) => m.numbers.map((n) => `      case ${n}: v${i} = members[${i}].read(r, tag & 7, ${n}, v${i}); break;`)).join("\n")}
      default: r.skip(tag & 7);
    }
  }
  if (r.pos !== end) throw new Error(typeName + ": a field runs past the end of the message");
  return { $typeName: typeName, ${members.map((m, i) => `${name(m)}: v${i}`).join(", ")} };
};`,
  )(members, defaults, schema.typeName) as CompiledMessage["read"];
  const compiledMessage: CompiledMessage = { writeFields, read };
  compiledByType.set(schema.typeName, compiledMessage);
  return compiledMessage;
}

function unsupported(field: DescField, what: string): Error {
  return new Error(`flatCodec: ${field.parent.typeName}.${field.name} is ${what}, which flat messages do not have`);
}

/** A field of its own: its value, or the default when the message lacks it. */
function fieldMember(field: DescField): MemberCodec {
  const codec = fieldCodec(field, false);
  return { localName: field.localName, numbers: [field.number], initial: "$default", write: codec.write, read: codec.read };
}

/** A oneof: { case, value } with the field that is set, written even when its value is a default. */
function oneofCodec(oneof: DescOneof): MemberCodec {
  const byCase = new Map(oneof.fields.map((f) => [f.localName, fieldCodec(f, true)]));
  const byNumber = new Map(oneof.fields.map((f) => [f.number, { case: f.localName, codec: byCase.get(f.localName)! }]));
  return {
    localName: oneof.localName,
    numbers: oneof.fields.map((f) => f.number),
    initial: "{ case: undefined }",
    write(w, value) {
      const { case: set, value: inner } = value as { case?: string; value?: unknown };
      if (set === undefined) return;
      const codec = byCase.get(set);
      if (!codec) throw new Error(`${oneof.parent.typeName}.${oneof.name} has no case ${set}`);
      codec.write(w, inner);
    },
    read(r, wireType, number) {
      const { case: set, codec } = byNumber.get(number)!;
      return { case: set, value: codec.read(r, wireType) };
    },
  };
}

/** A map from strings to scalars: one length-delimited entry (key 1, value 2) per key. */
function mapCodec(field: DescField & { fieldKind: "map" }): MemberCodec {
  if (field.mapKey !== ScalarType.STRING) throw unsupported(field, "a map with non-string keys");
  if (field.mapKind === "message") throw unsupported(field, "a map of messages");
  const kind = SCALARS[field.mapKind === "enum" ? ScalarType.INT32 : field.scalar];
  if (!kind) throw unsupported(field, "a map of this scalar type");
  const key = SCALARS[ScalarType.STRING]!;
  const tag = (field.number << 3) | LENGTH_DELIMITED;
  const valueTag = (2 << 3) | kind.wireType;
  return {
    localName: field.localName,
    numbers: [field.number],
    initial: "{}",
    write(w, value) {
      const entries = value as Json;
      for (const k in entries) {
        w.varint(tag);
        w.nested(() => {
          w.varint((1 << 3) | LENGTH_DELIMITED);
          key.write(w, k);
          w.varint(valueTag);
          try {
            kind.write(w, entries[k]);
          } catch (e) {
            throw encodeError(field, e);
          }
        });
      }
    },
    read(r, wireType, _number, current) {
      expectWireType(field, wireType, LENGTH_DELIMITED);
      const length = r.varint32();
      const end = r.pos + length;
      let k = "";
      let v = kind.zero();
      while (r.pos < end) {
        const entryTag = r.varint32();
        if (entryTag >>> 3 === 1) k = key.read(r) as string;
        else if (entryTag >>> 3 === 2) v = kind.read(r);
        else r.skip(entryTag & 7);
      }
      if (r.pos !== end) throw new Error(`${field.parent.typeName}.${field.name}: a map entry runs past its end`);
      // Assigned, a key "__proto__" would be lost (or set the map's prototype).
      if (k === "__proto__") Object.defineProperty(current, k, { value: v, writable: true, enumerable: true, configurable: true });
      else (current as Json)[k] = v;
      return current;
    },
  };
}

/** A list of strings or of flat messages: one length-delimited field per item (lists of strings are never packed). */
function listCodec(field: DescField & { fieldKind: "list" }): MemberCodec {
  let kind: Pick<ScalarKind, "write" | "read">;
  if (field.listKind === "message") kind = messageKind(field.message);
  else if (field.listKind === "scalar" && field.scalar === ScalarType.STRING) kind = SCALARS[ScalarType.STRING]!;
  else throw unsupported(field, "a list of other than strings or messages");
  const tag = (field.number << 3) | LENGTH_DELIMITED;
  return {
    localName: field.localName,
    numbers: [field.number],
    initial: "[]",
    write(w, value) {
      for (const item of value as unknown[]) {
        w.varint(tag);
        kind.write(w, item);
      }
    },
    read(r, wireType, _number, current) {
      expectWireType(field, wireType, LENGTH_DELIMITED);
      (current as unknown[]).push(kind.read(r));
      return current;
    },
  };
}

function fieldCodec(field: DescField, inOneof: boolean): FieldCodec {
  if (field.fieldKind === "list" || field.fieldKind === "map") throw unsupported(field, `a ${field.fieldKind}`);
  if (field.oneof && !inOneof) throw unsupported(field, "part of a oneof");
  const { localName, number } = field;
  if (field.fieldKind === "message") {
    const kind = messageKind(field.message);
    const tag = (number << 3) | LENGTH_DELIMITED;
    return {
      localName,
      number,
      write(w, value) {
        w.varint(tag);
        kind.write(w, value);
      },
      read(r, wireType) {
        expectWireType(field, wireType, LENGTH_DELIMITED);
        return kind.read(r);
      },
    };
  }
  // A oneof's fields have explicit presence: the one that is set is written whatever its value.
  if (field.presence !== IMPLICIT && !inOneof) throw unsupported(field, "a field with explicit presence");
  const scalar = field.fieldKind === "enum" ? ScalarType.INT32 : field.scalar;
  const kind = SCALARS[scalar];
  if (!kind) throw unsupported(field, `of scalar type ${ScalarType[scalar]}`);
  const tag = (number << 3) | kind.wireType;
  const asString = field.fieldKind === "scalar" && field.longAsString;
  return {
    localName,
    number,
    write(w, value) {
      if (!inOneof && kind.isDefault(value)) return;
      w.varint(tag);
      try {
        kind.write(w, value);
      } catch (e) {
        throw encodeError(field, e);
      }
    },
    read(r, wireType) {
      expectWireType(field, wireType, kind.wireType);
      const value = kind.read(r);
      return asString ? String(value) : value;
    },
  };
}

/** A nested message's length and fields. */
function messageKind(schema: DescMessage): Pick<ScalarKind, "write" | "read"> {
  // Compiled now, so a nested schema that is not flat is refused here and not at the first encode.
  if (!compiling.has(schema.typeName)) compile(schema);
  const nested = () => compile(schema);
  return {
    write: (w, value) => w.nested(() => nested().writeFields(w, value as Json)),
    read(r) {
      const length = r.varint32();
      return nested().read(r, r.pos + length);
    },
  };
}

// proto3's implicit presence: a field equal to its default is not written.
const IMPLICIT = 2;

/** What toBinary throws for a value its writer refuses: the writer's error, with the field's name in front. */
function encodeError(field: DescField, e: unknown): unknown {
  return e instanceof Error ? new Error(`cannot encode field ${field.parent.typeName}.${field.name} to binary: ${e.message}`) : e;
}

function expectWireType(field: DescField, got: number, want: number): void {
  if (got !== want) throw new Error(`${field.parent.typeName}.${field.name}: wire type ${got}, expected ${want}`);
}

interface ScalarKind {
  wireType: number;
  /** The value a map entry without one has. */
  zero(): unknown;
  isDefault(value: unknown): boolean;
  write(w: Writer, value: unknown): void;
  read(r: Reader): unknown;
}

// The values protobuf-es's writer takes for a 32-bit field are a number in
// the type's range or a string of one. Each check below is a comparison or
// two that every number in range passes (NaN passes the float's, as it does
// protobuf-es's); anything else is put to protobuf-es's own writer, which
// throws what toBinary would (encodeError names the field), and a string it
// accepts is written as its number. A 64-bit value goes through
// protobuf-es's own parse, as toBinary's does: a bigint in range passes
// with two comparisons.
function uint32(v: unknown): number {
  if ((v as number) >>> 0 === v) return v as number;
  new BinaryWriter().uint32(v as number);
  return Number(v);
}

function int32(v: unknown): number {
  if (((v as number) | 0) === v) return v as number;
  new BinaryWriter().int32(v as number);
  return Number(v);
}

function float32(v: unknown): number {
  if (typeof v === "number" && !(v > FLOAT32_MAX || v < -FLOAT32_MAX)) return v;
  new BinaryWriter().float(v as number);
  return Number(v);
}

const isZero = (value: unknown) => value === 0 || value === undefined;
const isZeroLong = (value: unknown) => value === undefined || value === 0 || value === 0n || value === "0";

const SCALARS: Partial<Record<ScalarType, ScalarKind>> = {
  [ScalarType.STRING]: {
    wireType: LENGTH_DELIMITED,
    zero: () => "",
    isDefault: (v) => v === "" || v === undefined,
    write: (w, v) => w.string(v as string),
    read: (r) => r.string(),
  },
  [ScalarType.BYTES]: {
    wireType: LENGTH_DELIMITED,
    zero: () => new Uint8Array(0),
    isDefault: (v) => (v as Uint8Array | undefined)?.length === 0 || v === undefined,
    write: (w, v) => w.bytes(v as Uint8Array),
    read: (r) => r.bytes(),
  },
  [ScalarType.BOOL]: {
    wireType: VARINT,
    zero: () => false,
    isDefault: (v) => v === false || v === undefined,
    write: (w, v) => w.varint(v === true ? 1 : 0),
    read: (r) => r.varint32() !== 0,
  },
  [ScalarType.UINT32]: { wireType: VARINT, zero: () => 0, isDefault: isZero, write: (w, v) => w.varint(uint32(v)), read: (r) => r.varint32() >>> 0 },
  [ScalarType.INT32]: { wireType: VARINT, zero: () => 0, isDefault: isZero, write: (w, v) => w.int32(int32(v)), read: (r) => r.varint32() | 0 },
  [ScalarType.INT64]: { wireType: VARINT, zero: () => 0n, isDefault: isZeroLong, write: (w, v) => w.varint64(protoInt64.parse(v as bigint)), read: (r) => BigInt.asIntN(64, r.varint64()) },
  [ScalarType.UINT64]: { wireType: VARINT, zero: () => 0n, isDefault: isZeroLong, write: (w, v) => w.varint64(protoInt64.uParse(v as bigint)), read: (r) => r.varint64() },
  [ScalarType.DOUBLE]: {
    wireType: FIXED64,
    zero: () => 0,
    // -0 is written: it is not the default's bit pattern.
    isDefault: (v) => v === undefined || Object.is(v, 0),
    write: (w, v) => w.double(v as number),
    read: (r) => r.double(),
  },
  [ScalarType.FLOAT]: {
    wireType: FIXED32,
    zero: () => 0,
    isDefault: (v) => v === undefined || Object.is(v, 0),
    write: (w, v) => w.float(float32(v)),
    read: (r) => r.float(),
  },
};

/** A growing buffer, reused by every encode (encoding is synchronous). */
class Writer {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  private room(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  varint(value: number): void {
    this.room(5);
    while (value > 0x7f) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.pos++] = value;
  }

  /** A negative int32 is sign-extended to ten bytes, as protobuf says. */
  int32(value: number): void {
    if (value >= 0) this.varint(value);
    else this.varint64(BigInt.asUintN(64, BigInt(value)));
  }

  varint64(value: bigint): void {
    this.room(10);
    let v = BigInt.asUintN(64, value);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  double(value: number): void {
    this.room(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  float(value: number): void {
    this.room(4);
    this.pos = this.buf.writeFloatLE(value, this.pos);
  }

  string(value: string): void {
    // Short ASCII, most of what is written, is copied here: cheaper than
    // two calls into Node's UTF-8 encoder.
    const n = value.length;
    if (n < 0x80) {
      this.room(n + 1);
      const buf = this.buf;
      let at = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = at;
        return;
      }
    }
    const length = Buffer.byteLength(value, "utf8");
    this.varint(length);
    this.room(length);
    this.pos += this.buf.write(value, this.pos, length, "utf8");
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.room(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Writes a length-delimited body: reserves one length byte, and moves the body when its length needs more. */
  nested(writeBody: () => void): void {
    this.room(1);
    const at = this.pos++;
    writeBody();
    const length = this.pos - at - 1;
    if (length < 0x80) {
      this.buf[at] = length;
      return;
    }
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.room(extra);
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos);
    this.pos = at;
    this.varint(length);
    this.pos += length;
  }
}

const writer = new Writer();

class Reader {
  private readonly buf: Buffer;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.buf.length) throw new Error("premature end of a protobuf message");
  }

  /** A varint's low 32 bits (what int32, uint32, enum and bool keep). */
  varint32(): number {
    let result = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    throw new Error("malformed varint");
  }

  varint64(): bigint {
    let low = 0;
    let high = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      if (shift < 28) low |= (b & 0x7f) << shift;
      else if (shift === 28) {
        low |= (b & 0x0f) << 28;
        high |= (b & 0x7f) >>> 4;
      } else high |= (b & 0x7f) << (shift - 32);
      if (b < 0x80) return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
    }
    throw new Error("malformed varint");
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  float(): number {
    this.need(4);
    const value = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return value;
  }

  private span(): [number, number] {
    const length = this.varint32() >>> 0;
    this.need(length);
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  string(): string {
    const [start, end] = this.span();
    return this.buf.toString("utf8", start, end);
  }

  bytes(): Uint8Array {
    const [start, end] = this.span();
    return new Uint8Array(this.buf.subarray(start, end));
  }

  skip(wireType: number): void {
    if (wireType === VARINT) this.varint64();
    else if (wireType === FIXED64) this.pos += 8;
    else if (wireType === FIXED32) this.pos += 4;
    else if (wireType === LENGTH_DELIMITED) this.span();
    else throw new Error(`cannot skip a field of wire type ${wireType}`);
    this.need(0);
  }
}
