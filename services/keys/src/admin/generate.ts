import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey } from "@gateway/common";
import type { GenerateKeyRequest, RegenerateKeyRequest, VirtualKey } from "@gateway/proto/keys/v1/keys_pb.js";
import { toRecord } from "../key-record.js";
import { keyName, newKey } from "../key-token.js";
import { carrySpend } from "./carry-spend.js";
import { checkOwnKeyWrite, keyToChange, requireWriter, type Caller } from "./access.js";
import { checkKeyTeam, uniquely, type AdminDeps } from "./context.js";
import { boundKeyLimits, checkKeyGeneration, withKeyDefaults } from "./key-rules.js";
import { checkKeyOrganization, inOrganization } from "./organization-rules.js";
import { settingsPatch } from "./settings.js";
import { keyView } from "./views.js";

/** A key shown once: the caller gets the key itself, the store only its hash. */
export interface Minted {
  key: string;
  info: VirtualKey;
}

/** A caller-chosen key must look like one and be hard to guess. */
function chosenOrNew(key: string): string {
  if (key === "") return newKey();
  if (!key.startsWith("sk-") || key.length < 20) {
    throw gatewayError("a custom key must start with sk- and be at least 20 characters", Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "key",
    });
  }
  return key;
}

export async function generateKey(deps: AdminDeps, req: GenerateKeyRequest, caller: Caller): Promise<Minted> {
  requireWriter(caller);
  const key = chosenOrNew(req.key);
  const patch = settingsPatch(req.settings);
  checkKeyGeneration(deps, caller, patch, req.givenParams);
  checkOwnKeyWrite(deps, caller, patch);
  withKeyDefaults(deps, patch);
  boundKeyLimits(deps, patch, true);
  await checkKeyTeam(deps, patch);
  await checkKeyOrganization(deps, patch);
  const row = await uniquely("that key or key_alias", () =>
    inOrganization(patch.organizationId, () => deps.store.insert({ id: randomUUID(), keyHash: hashKey(key), keyName: keyName(key), ...patch })),
  );
  await deps.cache.changed(row.keyHash);
  return { key, info: await keyView(deps, row) };
}

/** A new key with the same id, limits and spend; the old one stops working everywhere at once. */
export async function regenerateKey(deps: AdminDeps, req: RegenerateKeyRequest, caller: Caller): Promise<Minted> {
  const old = await keyToChange(deps, caller, req.ref);
  const key = chosenOrNew(req.newKey);
  const patch = settingsPatch(req.settings);
  checkOwnKeyWrite(deps, caller, patch, old);
  boundKeyLimits(deps, patch, false);
  await checkKeyTeam(deps, patch, old);
  await checkKeyOrganization(deps, patch, old);
  const row = await uniquely("that key or key_alias", () => inOrganization(patch.organizationId, () => deps.store.rekey(old.id, hashKey(key), keyName(key), patch)));
  if (!row) throw gatewayError("key not found: no such key", Code.NotFound, { type: "not_found_error" });
  await carrySpend(deps, toRecord(old), toRecord(row), req.spendBefore);
  await deps.cache.changed(old.keyHash, row.keyHash);
  return { key, info: await keyView(deps, row) };
}
