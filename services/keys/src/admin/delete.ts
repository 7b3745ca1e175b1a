import { administers } from "@gateway/common";
import type { DeleteKeysRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { mayChangeKey, notYourKey, requireWriter, unlessNotFound, type Caller } from "./access.js";
import { notFound, resolveKey, type AdminDeps } from "./context.js";

/**
 * Deletes the keys the refs name, and their limits' state. As in LiteLLM,
 * refs that name no key are skipped, and a call whose refs name none is a
 * 404.
 */
export async function deleteKeys(deps: AdminDeps, req: DeleteKeysRequest, caller: Caller): Promise<{ deletedKeyHashes: string[]; refFound: boolean[] }> {
  requireWriter(caller);
  const rows = await Promise.all(req.refs.map((ref) => resolveKey(deps, ref).catch(unlessNotFound)));
  // Below proxy_admin every key named must be one the caller may change (a missing one too: not its to know).
  if (!administers(caller.userRole) && rows.some((row) => !row || !mayChangeKey(deps, caller, row))) throw notYourKey();
  const found = rows.filter((row) => row !== undefined);
  if (found.length === 0) throw notFound("none of the keys given exists");
  const deleted = await deps.store.delete(found.map((row) => row.id));
  await deps.cache.changed(...deleted.map((row) => row.keyHash));
  await deps.allowances.forget(deleted.map((row) => row.id));
  return { deletedKeyHashes: deleted.map((row) => row.keyHash), refFound: rows.map((row) => row !== undefined) };
}
