import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError } from "@gateway/common";
import type { UpdateModelRequest, UpdateModelResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import { storedModelAnswer } from "./deployment-info.js";
import type { ModelStore, RuntimeModelRow } from "./model-store.js";
import { invalid, objectField, over, parseObject } from "./request-json.js";

/**
 * POST /model/update and PATCH /model/{id}/update: applies the changes to a
 * runtime model, checks the result as /model/new checks a new one, stores
 * it and has every replica load it. Requests in flight finish on the
 * deployment they started on.
 */
export async function updateModel(models: LiveModelList, store: ModelStore, req: UpdateModelRequest): Promise<MessageInitShape<typeof UpdateModelResponseSchema>> {
  if (req.id === "") throw gatewayError("id is required", Code.InvalidArgument, { type: "invalid_request_error", param: "id" });
  const changes = parseObject(req.changes, "changes");
  const params = objectField(changes, "litellm_params");
  const { id: givenId, ...info } = objectField(changes, "model_info");
  if (givenId !== undefined && givenId !== null && givenId !== req.id) throw invalid("model_info.id cannot change: add the model under the new id and delete this one");
  const name = changes["model_name"] ?? undefined;
  if (name !== undefined && (typeof name !== "string" || name === "")) throw invalid("model_name must be a non-empty string");
  if (models.table().groups.all().find((d) => d.id === req.id)?.source === "config") {
    throw gatewayError(`model ${req.id} is defined in config.yaml; change it there`, Code.FailedPrecondition, { type: "invalid_request_error", param: "id" });
  }
  let modelName = name;
  const change = (row: RuntimeModelRow) => {
    const next = { modelName: name ?? row.modelName, litellmParams: over(row.litellmParams, params), modelInfo: over(row.modelInfo, info) };
    const entry = models.parseEntry({ model_name: next.modelName, litellm_params: next.litellmParams, model_info: { ...next.modelInfo, id: req.id } }, "model");
    models.check([...models.runtimeModels().filter((e) => e.model_info?.id !== req.id), entry]);
    modelName = next.modelName;
    return next;
  };
  let found: boolean;
  try {
    found = await store.update(req.id, change);
  } catch (err) {
    // Also a stored secret sealed under a key no longer in use.
    if (err instanceof ConfigError) throw invalid(err.message);
    throw err;
  }
  if (!found) throw gatewayError(`no model with id ${req.id}`, Code.NotFound, { type: "not_found_error", param: "id" });
  await models.changed();
  return { model: storedModelAnswer(models, req.id, modelName) };
}
