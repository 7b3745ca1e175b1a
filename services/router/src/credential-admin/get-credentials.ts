import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { GetCredentialRequest, GetCredentialResponseSchema, ListCredentialsResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import type { StoredCredential } from "./credential-store.js";
import { credentialView } from "./credential-view.js";
import { deploymentCredential } from "./deployment-credential.js";

/** config.yaml's credential_list, then the stored credentials it does not name. */
function everyCredential(models: LiveModelList): StoredCredential[] {
  const own = models.configCredentials();
  const names = new Set(own.map((c) => c.name));
  return [...own, ...models.storedCredentials().filter((c) => !names.has(c.name))];
}

/** GET /credentials: every credential, secret values masked. */
export function listCredentials(models: LiveModelList): MessageInitShape<typeof ListCredentialsResponseSchema> {
  return { credentials: everyCredential(models).map(credentialView) };
}

/** GET /credentials/by_name/{name} and /credentials/by_model/{id}: one credential, secret values masked; 404 when there is none. */
export function getCredential(models: LiveModelList, req: GetCredentialRequest): MessageInitShape<typeof GetCredentialResponseSchema> {
  if (req.of.case === "modelId") return { credential: credentialView(deploymentCredential(models, req.of.value)) };
  const name = req.of.value ?? "";
  const credential = everyCredential(models).find((c) => c.name === name);
  if (!credential) throw gatewayError(`no credential named ${name}`, Code.NotFound, { type: "not_found_error", param: "credential_name" });
  return { credential: credentialView(credential) };
}
