import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { CreateCredentialRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { ModelStore } from "../model-admin/model-store.js";
import { objectField, parseObject } from "../model-admin/request-json.js";
import type { LiveModelList } from "../model-list.js";
import type { CredentialStore } from "./credential-store.js";
import { checkStored, credentialName, inConfig, invalidField } from "./credential-request.js";
import { deploymentCredential } from "./deployment-credential.js";

/**
 * POST /credentials: stores a named credential (its values, or those of the
 * deployment model_id names, as LiteLLM takes them) and has every replica
 * load it. A name config.yaml's credential_list has, or one stored already,
 * is refused.
 */
export async function createCredential(models: LiveModelList, store: CredentialStore, modelStore: ModelStore, req: CreateCredentialRequest): Promise<void> {
  const body = parseObject(req.credential, "credential");
  const name = credentialName(body["credential_name"]);
  const info = objectField(body, "credential_info");
  const modelId = body["model_id"];
  if (modelId !== undefined && modelId !== null && typeof modelId !== "string") throw invalidField("model_id must be a string", "model_id");
  const values = modelId ? deploymentCredential(models, modelId).values : objectField(body, "credential_values");
  if (Object.keys(values).length === 0) throw invalidField("credential_values or model_id is required", "credential_values");
  if (inConfig(models, name)) throw gatewayError(`a credential named ${name} is in config.yaml's credential_list`, Code.AlreadyExists, { type: "invalid_request_error", param: "credential_name" });
  const credential = { name, values, info };
  checkStored(models, [...models.storedCredentials(), credential], await modelStore.all(), `credential ${name} cannot be stored`, name);
  if (!(await store.add(credential))) throw gatewayError(`a credential named ${name} already exists`, Code.AlreadyExists, { type: "invalid_request_error", param: "credential_name" });
  await models.changed();
}
