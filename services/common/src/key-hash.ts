import { hash } from "node:crypto";

/**
 * How a key is stored and referred to everywhere: sha256, hex (LiteLLM's
 * "hashed token" form). crypto.hash is the one-shot form: a quarter of
 * createHash's cost, and this runs on every request.
 */
export function hashKey(key: string): string {
  return hash("sha256", key, "hex");
}
