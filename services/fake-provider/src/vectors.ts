import { createHash } from "node:crypto";

const EMBEDDING_DIMENSIONS = 8;
/** Values read from one SHA-256 digest (four bytes each). */
const VALUES_PER_DIGEST = 8;

/**
 * A deterministic unit vector of `dimensions` values for a text, so the same
 * text always embeds the same. The raw values are read from the text's
 * SHA-256 digest, then from a chain of digests of digests, so a longer vector
 * of a text starts with the same raw values as a shorter one.
 */
export function embed(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const raw: number[] = [];
  let digest = createHash("sha256").update(text).digest();
  while (raw.length < dimensions) {
    for (let i = 0; i < VALUES_PER_DIGEST && raw.length < dimensions; i += 1) raw.push(digest.readInt32LE(i * 4) / 2 ** 31);
    digest = createHash("sha256").update(digest).digest();
  }
  const norm = Math.hypot(...raw);
  // Rounded to float32 so the array and the base64 form carry the same numbers.
  return raw.map((value) => Math.fround(value / norm));
}

export function toBase64(vector: number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString("base64");
}
