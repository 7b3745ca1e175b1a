import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import { VirtualKeySchema, type GetKeyRequest, type KeyRef, type ListKeysRequest, type VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { resolveKey, type AdminDeps } from "./context.js";
import { keyView, keyViews } from "./views.js";

const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

/**
 * A key's info. The master key may read any key, and itself (LiteLLM keeps
 * a row for it); a virtual key (`caller`, its hash) only itself, as in LiteLLM.
 */
export async function getKey(deps: AdminDeps, req: GetKeyRequest, caller: string | undefined): Promise<VirtualKey> {
  if (caller === undefined) return namesMasterKey(deps, req.ref) ? masterKeyView(deps) : keyView(deps, await resolveKey(deps, req.ref));
  // Whether another key exists at all is the master key's to know, too; a
  // database that does not answer is still its own error.
  const row = await resolveKey(deps, req.ref).catch((err: unknown) => {
    if (ConnectError.from(err).code === Code.NotFound) return undefined;
    throw err;
  });
  if (!row || row.keyHash !== caller) {
    throw gatewayError("You are not allowed to access this key's info", Code.PermissionDenied, { type: "permission_error", param: "key" });
  }
  return keyView(deps, row);
}

function namesMasterKey(deps: AdminDeps, ref: KeyRef | undefined): boolean {
  const r = ref?.ref;
  return (r?.case === "key" && deps.masterKey.matchesHash(hashKey(r.value))) || (r?.case === "keyHash" && deps.masterKey.matchesHash(r.value));
}

/** The master key has no limits and no row; its spend is the ledger's. */
function masterKeyView(deps: AdminDeps): VirtualKey {
  return create(VirtualKeySchema, { keyHash: deps.masterKey.hash, keyName: deps.masterKey.name, metadataJson: "{}" });
}

/** Pages are numbered from 1, as in LiteLLM's /key/list. */
export async function listKeys(deps: AdminDeps, req: ListKeysRequest): Promise<{ keys: VirtualKey[]; totalCount: number }> {
  const size = Math.min(req.size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = Math.max(1, req.page);
  const { rows, total } = await deps.store.list({ userId: req.userId, teamId: req.teamId, keyAlias: req.keyAlias }, (page - 1) * size, size);
  return { keys: await keyViews(deps, rows), totalCount: total };
}
