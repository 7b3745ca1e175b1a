import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError, pgErrorCode } from "@gateway/common";
import type { AddModelRequest, AddModelResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import { storedModelAnswer } from "./deployment-info.js";
import type { ModelStore } from "./model-store.js";
import { invalid, parseObject } from "./request-json.js";

/**
 * POST /model/new: checks the entry as config.yaml's are checked (against
 * the whole model list it would join), stores it as given, and has every
 * replica load it.
 */
export async function addModel(models: LiveModelList, store: ModelStore, req: AddModelRequest): Promise<MessageInitShape<typeof AddModelResponseSchema>> {
  const raw = parseObject(req.model, "model");
  const info = (raw["model_info"] ?? {}) as Record<string, unknown>;
  if (typeof info !== "object" || info === null || Array.isArray(info)) throw invalid("model_info must be an object");
  const id = typeof info["id"] === "string" && info["id"] !== "" ? info["id"] : randomUUID();
  const given = { model_name: raw["model_name"], litellm_params: raw["litellm_params"], model_info: { ...info, id } };
  try {
    const entry = models.parseEntry(given, "model");
    models.check([...models.runtimeModels(), entry]);
  } catch (err) {
    if (err instanceof ConfigError) throw invalid(err.message);
    throw err;
  }
  const { id: _id, ...modelInfo } = given.model_info;
  try {
    await store.add({
      id,
      modelName: given.model_name as string,
      litellmParams: given.litellm_params as Record<string, unknown>,
      modelInfo,
    });
  } catch (err) {
    if (pgErrorCode(err) === "23505") throw gatewayError(`a model with id ${id} already exists`, Code.AlreadyExists, { type: "invalid_request_error" });
    throw err;
  }
  await models.changed();
  return { model: storedModelAnswer(models, id, given.model_name) };
}
