import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError } from "@gateway/common";
import type { RuntimeModelRow } from "../model-admin/model-store.js";
import type { LiveModelList } from "../model-list.js";
import type { StoredCredential } from "./credential-store.js";

/** A credential admin call's 400 about one field. */
export function invalidField(message: string, param: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error", param });
}

/** A credential_name as a request gives it. */
export function credentialName(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") throw invalidField("credential_name is required", "credential_name");
  return value;
}

/** Whether config.yaml's credential_list has a credential of that name (its own wins over a stored one). */
export function inConfig(models: LiveModelList, name: string): boolean {
  return models.configCredentials().some((c) => c.name === name);
}

/**
 * Refuses (400) stored credentials that, once `stored`, would break a model
 * that works now (`rows`: the runtime models as stored), or whose `changed`
 * credential names a variable not set; `what` says what the change is.
 */
export function checkStored(models: LiveModelList, stored: readonly StoredCredential[], rows: readonly RuntimeModelRow[], what: string, changed?: string): void {
  try {
    models.checkCredentials(stored, rows, changed);
  } catch (err) {
    if (err instanceof ConfigError) throw gatewayError(`${what}: ${err.message}`, Code.FailedPrecondition, { type: "invalid_request_error" });
    throw err;
  }
}
