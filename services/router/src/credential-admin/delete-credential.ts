import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { DeleteCredentialRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { ModelStore } from "../model-admin/model-store.js";
import type { LiveModelList } from "../model-list.js";
import type { CredentialStore } from "./credential-store.js";
import { checkStored, credentialName, inConfig } from "./credential-request.js";

/** DELETE /credentials/{name}: removes a stored credential everywhere; one a model names is refused, as are config.yaml's. */
export async function deleteCredential(models: LiveModelList, store: CredentialStore, modelStore: ModelStore, req: DeleteCredentialRequest): Promise<void> {
  const name = credentialName(req.name);
  if (inConfig(models, name)) throw gatewayError(`credential ${name} is in config.yaml's credential_list; remove it there`, Code.FailedPrecondition, { type: "invalid_request_error", param: "credential_name" });
  const others = models.storedCredentials().filter((c) => c.name !== name);
  checkStored(models, others, await modelStore.all(), `credential ${name} cannot be deleted while a model names it`);
  if (!(await store.delete(name))) throw gatewayError(`no stored credential named ${name}`, Code.NotFound, { type: "not_found_error", param: "credential_name" });
  await models.changed();
}
