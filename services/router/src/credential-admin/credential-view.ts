import type { StoredCredential } from "./credential-store.js";
import { maskedValues } from "./masked-values.js";

const encoder = new TextEncoder();

/** A credential as LiteLLM's /credentials routes show it, secret values masked. */
export function credentialView(credential: StoredCredential): { json: Uint8Array } {
  const shown = { credential_name: credential.name, credential_values: maskedValues(credential.values), credential_info: credential.info };
  return { json: encoder.encode(JSON.stringify(shown)) };
}
