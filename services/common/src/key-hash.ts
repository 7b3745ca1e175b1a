import { createHash } from "node:crypto";

/** How a key is stored and referred to everywhere: sha256, hex (LiteLLM's "hashed token" form). */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
