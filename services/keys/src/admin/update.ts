import type { KeyRef, UpdateKeyRequest, VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import type { KeyPatch } from "../key-store.js";
import { keyBudgetChange, spendOffsetPatch, writeSpendBefore } from "./carry-spend.js";
import { checkOwnKeyWrite, keyToChange, type Caller } from "./access.js";
import { checkKeyTeam, notFound, uniquely, type AdminDeps } from "./context.js";
import { boundKeyLimits } from "./key-rules.js";
import { checkKeyOrganization, inOrganization } from "./organization-rules.js";
import { settingsPatch } from "./settings.js";
import { keyView } from "./views.js";

async function patchKey(deps: AdminDeps, caller: Caller, ref: KeyRef | undefined, patch: KeyPatch, spendBefore?: number, spendTo?: number): Promise<VirtualKey> {
  const current = await keyToChange(deps, caller, ref);
  checkOwnKeyWrite(deps, caller, patch, current);
  spendOffsetPatch(caller, patch, current, spendTo, spendBefore);
  boundKeyLimits(deps, patch, false);
  await checkKeyTeam(deps, patch, current);
  await checkKeyOrganization(deps, patch, current);
  await writeSpendBefore(deps, spendTo);
  const budgetChange = keyBudgetChange(deps, current, spendBefore, spendTo);
  const row = await uniquely("that key_alias", () => inOrganization(patch.organizationId, () => deps.store.update(current.id, patch, budgetChange)));
  if (!row) throw notFound("no such key");
  await deps.cache.changed(row.keyHash);
  return keyView(deps, row);
}

export const updateKey = (deps: AdminDeps, req: UpdateKeyRequest, caller: Caller) => patchKey(deps, caller, req.ref, settingsPatch(req.settings), req.spendBefore, req.settings?.spend);

/** Only admins are let through to block and unblock (service.ts): a key's user may not undo an admin's block. */
export const setBlocked = (deps: AdminDeps, caller: Caller, ref: KeyRef | undefined, blocked: boolean) => patchKey(deps, caller, ref, { blocked });
