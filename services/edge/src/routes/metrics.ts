import { sendMetrics } from "@gateway/common";
import type { RequestContext } from "../context.js";
import { asViewer } from "../http.js";

/**
 * GET /metrics: Prometheus' text format. Without authentication, as LiteLLM
 * serves it unless `require_auth_for_metrics_endpoint` asks for a key that
 * reads everything (the master key, a proxy_admin's or a
 * proxy_admin_viewer's); either way, keep it off the public side of the
 * reverse proxy.
 */
export async function metricsRoute(ctx: RequestContext): Promise<void> {
  if (ctx.options.metricsNeedAuth) {
    await asViewer(ctx);
  }
  return sendMetrics(ctx.res);
}
