import { hash, timingSafeEqual } from "node:crypto";

/**
 * How a key is stored and referred to everywhere: sha256, hex (LiteLLM's
 * "hashed token" form). crypto.hash is the one-shot form: a quarter of
 * createHash's cost, and this runs on every request.
 */
export function hashKey(key: string): string {
  return hash("sha256", key, "hex");
}

/** Whether two key hashes are the same, compared in constant time, so the time taken says nothing about either. */
export function sameKeyHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length > 0 && x.length === y.length && timingSafeEqual(x, y);
}

// The scheme is case-insensitive (RFC 7235): "bearer sk-…" is as good as "Bearer sk-…".
const BEARER = /^bearer /i;

/** The key an Authorization header carries: its bearer token, or a bare key as sent. */
export function keyOfAuthorization(header: string): string {
  return BEARER.test(header) ? header.slice(7).trim() : header.trim();
}
