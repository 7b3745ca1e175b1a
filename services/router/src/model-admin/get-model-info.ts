import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetModelInfoRequest, GetModelInfoResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { LiveModelList } from "../model-list.js";
import { deploymentInfo } from "./deployment-info.js";

const encoder = new TextEncoder();

/** GET /model/info: every deployment in force (or the one asked for), without secrets. */
export function getModelInfo(models: LiveModelList, req: GetModelInfoRequest): MessageInitShape<typeof GetModelInfoResponseSchema> {
  const deployments = models.table().groups.all().filter((d) => req.id === "" || d.id === req.id);
  return { models: deployments.map((d) => ({ json: encoder.encode(JSON.stringify(deploymentInfo(d))) })) };
}
