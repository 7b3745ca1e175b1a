import { Code, type HandlerContext } from "@connectrpc/connect";
import { gatewayError, hashKey, keyOfAuthorization, pgErrorCode, requireMasterKey } from "@gateway/common";
import type { KeyRef } from "@gateway/proto/keys/v1/keys_pb.js";
import type { AllowanceStore } from "../allowance-store.js";
import type { BudgetSpend } from "../budget-spend.js";
import type { KeyCache } from "../key-cache.js";
import type { KeyRow } from "../key-record.js";
import type { KeyStore } from "../key-store.js";
import type { MasterKey } from "../master-key.js";

/** What every management RPC works with. */
export interface AdminDeps {
  masterKey: MasterKey;
  store: KeyStore;
  allowances: AllowanceStore;
  spend: BudgetSpend;
  cache: KeyCache;
}

/** The bearer token of a management call, whichever way it arrives. */
export function bearerOf(ctx: HandlerContext): string {
  return keyOfAuthorization(ctx.requestHeader.get("authorization") ?? "");
}

/** Management calls carry the master key as their bearer token. */
export function requireMaster(deps: AdminDeps, ctx: HandlerContext): void {
  requireMasterKey(deps.masterKey.hash, ctx);
}

export function notFound(what: string): Error {
  return gatewayError(`key not found: ${what}`, Code.NotFound, { type: "not_found_error" });
}

/** The key a reference names, or a 404. */
export async function resolveKey(deps: AdminDeps, ref: KeyRef | undefined): Promise<KeyRow> {
  const r = ref?.ref;
  let row: KeyRow | undefined;
  if (r?.case === "key") row = await deps.store.byHash(hashKey(r.value));
  else if (r?.case === "keyHash") row = await deps.store.byHash(r.value);
  else if (r?.case === "keyAlias") row = await deps.store.byAlias(r.value);
  else throw gatewayError("name the key by key, key hash or key_alias", Code.InvalidArgument, { type: "invalid_request_error", param: "key" });
  // Never echo a key back, even in an error.
  if (!row) throw notFound(r.case === "keyAlias" ? `alias ${r.value}` : "no such key");
  return row;
}

/** Unique-violation (a taken alias or key) as a 400 the caller can act on. */
export async function uniquely<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (pgErrorCode(err) === "23505") throw gatewayError(`${what} is already in use`, Code.AlreadyExists, { type: "invalid_request_error", status: 400 });
    throw err;
  }
}
