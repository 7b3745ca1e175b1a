import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ConfigError, gatewayError, parseModelEntry, pgErrorCode } from "@gateway/common";
import type { AddModelRequest, AddModelResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import { deploymentInfo } from "./deployment-info.js";
import type { ModelStore } from "./model-store.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function invalid(message: string): Error {
  return gatewayError(message, Code.InvalidArgument, { type: "invalid_request_error" });
}

function parse(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw invalid("model is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw invalid("model must be a JSON object");
  return value as Record<string, unknown>;
}

/**
 * POST /model/new: checks the entry as config.yaml's are checked (against
 * the whole model list it would join), stores it as given, and has every
 * replica load it.
 */
export async function addModel(models: LiveModelList, store: ModelStore, req: AddModelRequest): Promise<MessageInitShape<typeof AddModelResponseSchema>> {
  const raw = parse(req.model);
  const info = (raw["model_info"] ?? {}) as Record<string, unknown>;
  if (typeof info !== "object" || info === null || Array.isArray(info)) throw invalid("model_info must be an object");
  const id = typeof info["id"] === "string" && info["id"] !== "" ? info["id"] : randomUUID();
  const given = { model_name: raw["model_name"], litellm_params: raw["litellm_params"], model_info: { ...info, id } };
  try {
    const entry = parseModelEntry(given, "model");
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
  const added = models.table().groups.all().find((d) => d.id === id);
  return { model: { json: encoder.encode(JSON.stringify(added ? deploymentInfo(added) : { model_name: given.model_name, model_info: { id } })) } };
}
