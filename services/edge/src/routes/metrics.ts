import { sendMetrics } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asMaster } from "../http.js";

/**
 * GET /metrics: Prometheus' text format. Without authentication, as LiteLLM
 * serves it unless `require_auth_for_metrics_endpoint` asks for the master
 * key; either way, keep it off the public side of the reverse proxy.
 */
export async function metricsRoute(ctx: RequestContext): Promise<void> {
  if (ctx.options.metricsNeedMasterKey) {
    await asMaster(ctx);
  }
  return sendMetrics(ctx.res);
}
