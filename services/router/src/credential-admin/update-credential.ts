import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError, pgErrorCode } from "@gateway/common";
import type { UpdateCredentialRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { ModelStore } from "../model-admin/model-store.js";
import { invalid, objectField, over, parseObject } from "../model-admin/request-json.js";
import type { LiveModelList } from "../model-list.js";
import type { CredentialStore, StoredCredential } from "./credential-store.js";
import { checkStored, credentialName, inConfig } from "./credential-request.js";

/**
 * PATCH /credentials/{name}: the values and info given replace the stored
 * ones (null leaves one as it is), the rest stay; a credential_name renames
 * it. The change is checked against every model naming the credential,
 * stored, and loaded by every replica: the next call uses it.
 */
export async function updateCredential(models: LiveModelList, store: CredentialStore, modelStore: ModelStore, req: UpdateCredentialRequest): Promise<void> {
  const name = credentialName(req.name);
  const changes = parseObject(req.changes, "changes");
  const values = objectField(changes, "credential_values");
  const info = objectField(changes, "credential_info");
  const rename = changes["credential_name"] === undefined || changes["credential_name"] === null ? name : credentialName(changes["credential_name"]);
  if (inConfig(models, name)) throw gatewayError(`credential ${name} is in config.yaml's credential_list; change it there`, Code.FailedPrecondition, { type: "invalid_request_error", param: "credential_name" });
  if (rename !== name && inConfig(models, rename)) throw gatewayError(`a credential named ${rename} is in config.yaml's credential_list`, Code.AlreadyExists, { type: "invalid_request_error", param: "credential_name" });
  const rows = await modelStore.all();
  const change = (stored: StoredCredential): StoredCredential => {
    const next = { name: rename, values: over(stored.values, values), info: over(stored.info, info) };
    checkStored(models, [...models.storedCredentials().filter((c) => c.name !== name), next], rows, `credential ${name} cannot change so`, rename);
    return next;
  };
  let found: boolean;
  try {
    found = await store.update(name, change);
  } catch (err) {
    if (pgErrorCode(err) === "23505") throw gatewayError(`a credential named ${rename} already exists`, Code.AlreadyExists, { type: "invalid_request_error", param: "credential_name" });
    // Its values sealed under a key no longer in use.
    if (err instanceof ConfigError) throw invalid(err.message);
    throw err;
  }
  if (!found) throw gatewayError(`no stored credential named ${name}`, Code.NotFound, { type: "not_found_error", param: "credential_name" });
  await models.changed();
}
