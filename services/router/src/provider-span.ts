import { traceClientStream, tracingEnabled } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";

/**
 * The provider call of a request, as a client span of its trace (when
 * tracing is on): from the request to the provider until its last chunk.
 */
export function inProviderSpan<T>(d: Deployment, call: AsyncIterable<T>): AsyncIterable<T> {
  if (!tracingEnabled()) return call;
  return traceClientStream(`provider ${d.provider}`, { "gateway.deployment": d.id, "gateway.model_group": d.modelGroup, "gen_ai.request.model": d.providerModel, "gen_ai.system": d.provider }, call);
}
