import { Code, type HandlerContext } from "@connectrpc/connect";
import { gatewayError, hashKey, keyOfAuthorization, pgErrorCode, type BudgetSpend, type GatewayConfig } from "@gateway/common";
import type { KeyRef } from "@gateway/proto/keys/v1/keys_pb.js";
import type { AllowanceRef, AllowanceStore } from "../allowance-store.js";
import type { KeyCache } from "../key-cache.js";
import type { KeyRow } from "../key-record.js";
import { noSuchTeam, type KeyPatch, type KeyStore } from "../key-store.js";
import type { MasterKey } from "../master-key.js";
import { modelsOf, type ModelAccess } from "../model-access.js";
import type { OrganizationCache } from "../organization-record.js";
import type { OrganizationStore } from "../organization-store.js";
import type { TeamCache } from "../team-record.js";
import type { TeamStore } from "../team-store.js";
import type { BudgetStore } from "../budget-store.js";
import type { CustomerCache } from "../customer-record.js";
import type { CustomerStore } from "../customer-store.js";
import type { TagCache } from "../tag-record.js";
import type { TagStore } from "../tag-store.js";
import type { UserCache } from "../user-record.js";
import type { UserStore } from "../user-store.js";

/** What every management RPC works with. */
export interface AdminDeps {
  /** config.yaml as the service started with it. */
  config: GatewayConfig;
  masterKey: MasterKey;
  store: KeyStore;
  allowances: AllowanceStore;
  spend: BudgetSpend<AllowanceRef>;
  cache: KeyCache;
  teamStore: TeamStore;
  teams: TeamCache;
  organizationStore: OrganizationStore;
  organizations: OrganizationCache;
  userStore: UserStore;
  users: UserCache;
  customerStore: CustomerStore;
  customers: CustomerCache;
  budgetStore: BudgetStore;
  tagStore: TagStore;
  tags: TagCache;
  /** Model access groups, for the models keys and teams are given. */
  access: ModelAccess;
}

/** The bearer token of a management call, whichever way it arrives. */
export function bearerOf(ctx: HandlerContext): string {
  return keyOfAuthorization(ctx.requestHeader.get("authorization") ?? "");
}

/** A 404 naming the field that named the key: "key", "keys" or "key_alias". */
export function notFound(what: string, param = "key"): Error {
  return gatewayError(`key not found: ${what}`, Code.NotFound, { type: "not_found_error", param });
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
  if (!row) throw r.case === "keyAlias" ? notFound(`alias ${r.value}`, "key_alias") : notFound("no such key");
  return row;
}

/** Unique-violation (a taken alias or key) as an error the caller can act on: 400, or 409 where LiteLLM says so. */
export async function uniquely<T>(what: string, write: () => Promise<T>, status: 400 | 409 = 400): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (pgErrorCode(err) === "23505") throw gatewayError(`${what} is already in use`, Code.AlreadyExists, { type: "invalid_request_error", status });
    throw err;
  }
}

/**
 * A key put in a team (or given models while in one) must name a team that
 * exists, and models inside the team's, as LiteLLM checks.
 */
export async function checkKeyTeam(deps: AdminDeps, patch: KeyPatch, current?: KeyRow): Promise<void> {
  const teamId = patch.teamId ?? current?.teamId ?? "";
  if (teamId === "" || (patch.teamId === undefined && patch.models === undefined)) return;
  const team = await deps.teamStore.byId(teamId);
  if (!team) {
    if (patch.teamId === undefined) return;
    throw noSuchTeam(teamId);
  }
  const teamModels = modelsOf(team.models).modelList;
  const outside = modelsOf(patch.models ?? current?.models ?? []).modelList.filter((m) => !deps.access.covers(teamModels, m));
  if (outside.length > 0) {
    throw gatewayError(`models [${outside.join(", ")}] are not among team ${teamId}'s models [${team.models.join(", ")}]`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "models",
    });
  }
}
