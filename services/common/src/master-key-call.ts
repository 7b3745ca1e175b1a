import { Code, type HandlerContext } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";
import { hashKey, keyOfAuthorization, sameKeyHash } from "./key-hash.js";

/**
 * Refuses a management call that does not carry the master key as its bearer
 * token, as the keys service refuses its own: the port admits every call of
 * the edge's (internal-credential.ts), so the router's model admin and the
 * accounting service's spend queries decide on the key themselves.
 * `masterKeyHash` is the master key's sha256 (hashKey); without one (none
 * configured) every call is refused.
 */
export function requireMasterKey(masterKeyHash: string | undefined, ctx: HandlerContext): void {
  const token = keyOfAuthorization(ctx.requestHeader.get("authorization") ?? "");
  if (token === "") {
    throw gatewayError("No API key provided", Code.Unauthenticated, { type: "authentication_error", code: "missing_api_key" });
  }
  if (masterKeyHash === undefined || !sameKeyHash(hashKey(token), masterKeyHash)) {
    throw gatewayError("Only the master key may call management routes", Code.PermissionDenied, { type: "permission_error", status: 401 });
  }
}
