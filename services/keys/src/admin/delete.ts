import { Code, ConnectError } from "@connectrpc/connect";
import type { DeleteKeysRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { notFound, resolveKey, type AdminDeps } from "./context.js";

/**
 * Deletes the keys the refs name, and their limits' state. As in LiteLLM,
 * refs that name no key are skipped, and a call whose refs name none is a
 * 404.
 */
export async function deleteKeys(deps: AdminDeps, req: DeleteKeysRequest): Promise<{ deletedKeyHashes: string[]; refFound: boolean[] }> {
  const rows = await Promise.all(req.refs.map((ref) => resolveKey(deps, ref).catch(unlessNotFound)));
  const found = rows.filter((row) => row !== undefined);
  if (found.length === 0) throw notFound("none of the keys given exists");
  const deleted = await deps.store.delete(found.map((row) => row.id));
  await deps.cache.changed(...deleted.map((row) => row.keyHash));
  await deps.allowances.forget(deleted.map((row) => row.id));
  return { deletedKeyHashes: deleted.map((row) => row.keyHash), refFound: rows.map((row) => row !== undefined) };
}

function unlessNotFound(err: unknown): undefined {
  if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
  throw err;
}
