import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError } from "@gateway/common";
import type { DeleteModelRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import type { ModelStore } from "./model-store.js";

/** POST /model/delete: removes a runtime model everywhere; config.yaml's stay until the file changes. */
export async function deleteModel(models: LiveModelList, store: ModelStore, req: DeleteModelRequest): Promise<void> {
  if (req.id === "") throw gatewayError("id is required", Code.InvalidArgument, { type: "invalid_request_error", param: "id" });
  const deployment = models.table().groups.all().find((d) => d.id === req.id);
  if (deployment?.source === "config") {
    throw gatewayError(`model ${req.id} is defined in config.yaml; remove it there`, Code.FailedPrecondition, { type: "invalid_request_error", param: "id" });
  }
  try {
    models.check(models.runtimeModels().filter((e) => e.model_info?.id !== req.id));
  } catch (err) {
    if (err instanceof ConfigError) throw gatewayError(`model ${req.id} cannot be deleted: ${err.message}`, Code.FailedPrecondition, { type: "invalid_request_error" });
    throw err;
  }
  if (!(await store.delete(req.id))) throw gatewayError(`no model with id ${req.id}`, Code.NotFound, { type: "not_found_error", param: "id" });
  await models.changed();
}
