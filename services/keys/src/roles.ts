import { Code } from "@connectrpc/connect";
import { administers, gatewayError, readsAll } from "@gateway/common";
import { Access } from "@gateway/proto/keys/v1/keys_pb.js";

/**
 * Refuses a caller whose role does not reach a management route: a change
 * (Access.MANAGEMENT) takes the master key or a proxy_admin's key, a read of
 * everything (Access.VIEW) also lets a proxy_admin_viewer's key through.
 */
export function requireRole(role: string, access: Access.MANAGEMENT | Access.VIEW): void {
  if (access === Access.VIEW ? readsAll(role) : administers(role)) return;
  if (readsAll(role)) throw viewerRefusal(role);
  throw gatewayError(`Only the master key or a proxy_admin user's key may call this management route; this key's role: ${role || "none (no user)"}`, Code.PermissionDenied, {
    type: "permission_error",
    status: 401,
  });
}

/** A change asked for by a key whose role only reads. */
export function viewerRefusal(role: string): Error {
  return gatewayError(`A ${role}'s key may read but not change anything`, Code.PermissionDenied, { type: "permission_error" });
}
