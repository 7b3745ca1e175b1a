import { createHash } from "node:crypto";

const EMBEDDING_DIMENSIONS = 8;

/** A deterministic unit vector for a text, so the same text always embeds the same. */
export function embed(text: string): number[] {
  const digest = createHash("sha256").update(text).digest();
  const raw = Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => digest.readInt32LE(i * 4) / 2 ** 31);
  const norm = Math.hypot(...raw);
  // Rounded to float32 so the array and the base64 form carry the same numbers.
  return raw.map((value) => Math.fround(value / norm));
}

export function toBase64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}
