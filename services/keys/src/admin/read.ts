import type { GetKeyRequest, ListKeysRequest, VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { toProto } from "../key-record.js";
import { resolveKey, type AdminDeps } from "./context.js";

const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

export async function getKey(deps: AdminDeps, req: GetKeyRequest): Promise<VirtualKey> {
  return toProto(await resolveKey(deps, req.ref));
}

/** Pages are numbered from 1, as in LiteLLM's /key/list. */
export async function listKeys(deps: AdminDeps, req: ListKeysRequest): Promise<{ keys: VirtualKey[]; totalCount: number }> {
  const size = Math.min(req.size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = Math.max(1, req.page);
  const { rows, total } = await deps.store.list({ userId: req.userId, teamId: req.teamId, keyAlias: req.keyAlias }, (page - 1) * size, size);
  const now = Date.now();
  return { keys: rows.map((row) => toProto(row, now)), totalCount: total };
}
