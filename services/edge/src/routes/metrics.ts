import { sendMetrics } from "@gateway/common";
import type { RequestContext } from "../context.js";

/**
 * GET /metrics: Prometheus' text format, without authentication, as
 * LiteLLM serves it; keep it off the public side of the reverse proxy.
 */
export function metricsRoute(ctx: RequestContext): Promise<void> {
  return sendMetrics(ctx.res);
}
