import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey, readsAll } from "@gateway/common";
import { VirtualKeySchema, type GetKeyRequest, type KeyRef, type ListKeyAliasesRequest, type ListKeysRequest, type VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { KEY_SORT_COLUMNS, type KeyListFilter, type KeyListOrder } from "../key-store.js";
import { forbidden, inTeam, isTeamAdmin, mayReadKey, organizationRole, unlessNotFound, type Caller } from "./access.js";
import { resolveKey, type AdminDeps } from "./context.js";
import { keyView, keyViews } from "./views.js";

const DEFAULT_PAGE_SIZE = 10;
const MAX_PAGE_SIZE = 100;

/**
 * A key's info. Whoever reads everything may read any key, and the master
 * key (LiteLLM keeps a row for it); other keys read themselves, their user's
 * keys and their teams' (mayReadKey).
 */
export async function getKey(deps: AdminDeps, req: GetKeyRequest, caller: Caller): Promise<VirtualKey> {
  if (readsAll(caller.userRole)) return namesMasterKey(deps, req.ref) ? masterKeyView(deps) : keyView(deps, await resolveKey(deps, req.ref));
  // Whether another key exists at all is not theirs to know; a database
  // that does not answer is still its own error.
  const row = await resolveKey(deps, req.ref).catch(unlessNotFound);
  if (!row || !mayReadKey(deps, caller, row)) {
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

/** LiteLLM's sort_by and sort_order (any case): newest first unless asked otherwise. */
function listOrder(req: ListKeysRequest): KeyListOrder {
  const by = req.sortBy || "created_at";
  if (!Object.hasOwn(KEY_SORT_COLUMNS, by)) {
    throw gatewayError(`Invalid sort column. Must be one of: ${Object.keys(KEY_SORT_COLUMNS).join(", ")}`, Code.InvalidArgument, { type: "invalid_request_error", param: "sort_by" });
  }
  const direction = (req.sortOrder || "desc").toLowerCase();
  if (direction !== "asc" && direction !== "desc") {
    throw gatewayError("Invalid sort order. Must be 'asc' or 'desc'", Code.InvalidArgument, { type: "invalid_request_error", param: "sort_order" });
  }
  return { by: by as KeyListOrder["by"], ascending: direction === "asc" };
}

/** Pages are numbered from 1, as in LiteLLM's /key/list. */
export async function listKeys(deps: AdminDeps, req: ListKeysRequest, caller: Caller): Promise<{ keys: VirtualKey[]; totalCount: number }> {
  const size = Math.min(req.size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = Math.max(1, req.page);
  const { rows, total } = await deps.store.list(listedFor(deps, req, caller), listOrder(req), (page - 1) * size, size);
  return { keys: await keyViews(deps, rows), totalCount: total };
}

/** The aliases of the keys listKeys would show the caller, a page of them. */
export async function listKeyAliases(deps: AdminDeps, req: ListKeyAliasesRequest, caller: Caller): Promise<{ aliases: string[]; totalCount: number }> {
  const size = Math.min(req.size || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const page = Math.max(1, req.page);
  const filter = listedFor(deps, { teamId: req.teamId, userId: "", keyAlias: "", organizationId: "" }, caller);
  const { aliases, total } = await deps.store.aliases(filter, req.search, (page - 1) * size, size);
  return { aliases, totalCount: total };
}

/**
 * The filter a caller lists with: as asked, by whoever reads everything;
 * below that, its own user's keys (in a team it is in), or, by a team's
 * admin, the team's keys, or, by an organization's org_admin, the
 * organization's keys.
 */
function listedFor(deps: AdminDeps, req: Required<KeyListFilter>, caller: Caller): KeyListFilter {
  const asked = { userId: req.userId, teamId: req.teamId, keyAlias: req.keyAlias, organizationId: req.organizationId };
  if (readsAll(caller.userRole)) return asked;
  if (req.organizationId !== "" && organizationRole(deps, caller.userId, req.organizationId) === "org_admin") return asked;
  if (caller.userId === "") throw forbidden("This key has no user_id: it may read only itself (/key/info)");
  if (req.teamId !== "" && !inTeam(deps, caller, req.teamId)) throw forbidden(`You are not allowed to list the keys of team=${req.teamId}`);
  if (req.teamId !== "" && isTeamAdmin(deps, caller, req.teamId)) return asked;
  if (req.userId !== "" && req.userId !== caller.userId) throw forbidden("You are not allowed to list another user's keys");
  return { ...asked, userId: caller.userId };
}
