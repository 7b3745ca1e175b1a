import type { DeleteKeysRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { resolveKey, type AdminDeps } from "./context.js";

/** Deletes keys (every reference must resolve, or nothing is deleted) and their limits' state. */
export async function deleteKeys(deps: AdminDeps, req: DeleteKeysRequest): Promise<{ deletedKeyHashes: string[] }> {
  const rows = await Promise.all(req.refs.map((ref) => resolveKey(deps, ref)));
  const deleted = await deps.store.delete(rows.map((row) => row.id));
  await deps.cache.changed(...deleted.map((row) => row.keyHash));
  await deps.allowances.forget(deleted.map((row) => row.id));
  return { deletedKeyHashes: deleted.map((row) => row.keyHash) };
}
