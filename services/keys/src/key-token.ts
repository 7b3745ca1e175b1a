import { randomBytes } from "node:crypto";

/** A new key: "sk-" and 192 random bits. */
export function newKey(): string {
  return `sk-${randomBytes(24).toString("base64url")}`;
}

/** What management views show instead of the key: enough to recognise it, useless to use. */
export function keyName(key: string): string {
  return `sk-...${key.slice(-4)}`;
}
