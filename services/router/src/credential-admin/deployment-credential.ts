import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { LiveModelList } from "../model-list.js";
import type { StoredCredential } from "./credential-store.js";

// The litellm_params LiteLLM takes as a deployment's credential values.
const CREDENTIAL_PARAMS = [
  "api_key",
  "api_base",
  "api_version",
  "organization",
  "vertex_project",
  "vertex_location",
  "vertex_credentials",
  "region_name",
  "aws_access_key_id",
  "aws_secret_access_key",
  "aws_session_token",
  "aws_region_name",
];

/** The credential of a deployment in force (GET /credentials/by_model, POST /credentials with model_id), named as LiteLLM names it; 404 for an unknown id. */
export function deploymentCredential(models: LiveModelList, id: string): StoredCredential {
  const deployment = models.table().groups.all().find((d) => d.id === id);
  if (!deployment) throw gatewayError(`no model with id ${id}`, Code.NotFound, { type: "not_found_error", param: "model_id" });
  const params: Record<string, unknown> = deployment.entry.litellm_params;
  const values = Object.fromEntries(CREDENTIAL_PARAMS.filter((name) => params[name] !== undefined && params[name] !== null).map((name) => [name, params[name]]));
  return { name: `${deployment.entry.model_name}-credential-${id}`, values, info: {} };
}
