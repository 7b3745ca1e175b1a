import { traceClientCall, tracingEnabled } from "@gateway/common";
import type { CallEvents } from "./calls.js";
import type { Deployment } from "./config/deployment.js";

/**
 * The provider call of a request, started as a client span of its trace
 * (when tracing is on): from the request to the provider until its answer,
 * or its last chunk.
 */
export function inProviderSpan(d: Deployment, start: () => CallEvents): CallEvents {
  if (!tracingEnabled()) return start();
  return traceClientCall(`provider ${d.provider}`, { "gateway.deployment": d.id, "gateway.model_group": d.modelGroup, "gen_ai.request.model": d.providerModel, "gen_ai.system": d.provider }, start);
}
