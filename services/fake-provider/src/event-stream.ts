import { crc32 } from "node:zlib";

// AWS's binary event-stream framing (application/vnd.amazon.eventstream), in
// which Bedrock's streaming operations answer. A message is a prelude (total
// length, headers length, a CRC32 of those 8 bytes), the headers, the payload,
// and a CRC32 of everything before it; integers are big-endian.

/** The header value type for UTF-8 strings, the only one the fakes send. */
const STRING_TYPE = 7;
const PRELUDE_LENGTH = 12;
const CRC_LENGTH = 4;

function encodeHeaders(headers: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const nameBytes = Buffer.from(name, "utf8");
      const valueBytes = Buffer.from(value, "utf8");
      if (nameBytes.length > 255) throw new RangeError(`event-stream header name too long: ${name}`);
      if (valueBytes.length > 65535) throw new RangeError(`event-stream header value too long: ${name}`);
      const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
      header.writeUInt8(nameBytes.length, 0);
      nameBytes.copy(header, 1);
      header.writeUInt8(STRING_TYPE, 1 + nameBytes.length);
      header.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
      valueBytes.copy(header, 4 + nameBytes.length);
      return header;
    }),
  );
}

/** One event-stream message with string headers (`:event-type`, `:message-type`, …) around the payload. */
export function encodeEventStreamMessage(headers: Record<string, string>, payload: Uint8Array): Buffer {
  const head = encodeHeaders(headers);
  const total = PRELUDE_LENGTH + head.length + payload.length + CRC_LENGTH;
  const message = Buffer.alloc(total);
  message.writeUInt32BE(total, 0);
  message.writeUInt32BE(head.length, 4);
  message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
  head.copy(message, PRELUDE_LENGTH);
  message.set(payload, PRELUDE_LENGTH + head.length);
  message.writeUInt32BE(crc32(message.subarray(0, total - CRC_LENGTH)), total - CRC_LENGTH);
  return message;
}
