import { describeError, metrics, traceHttpRequest, tracingEnabled } from "@gateway/common";
import type { RequestContext } from "./context.js";
import { sendError } from "./openai-errors.js";

/**
 * Answers one request the way every request is answered: counted and timed
 * in the metrics under its route, in a trace span when tracing is on, and
 * with any failure logged under its request id and sent as an OpenAI-style
 * error.
 */
export function observeRequest(ctx: RequestContext, route: string, answer: () => Promise<void>): void {
  const { req, res } = ctx;
  const finished = metrics.httpRequest(route);
  let errorType: string | undefined;
  res.once("close", () => finished(res.statusCode, errorType));
  const run = () =>
    answer().catch((err: unknown) => {
      errorType = describeError(err).type;
      const cause = (err as Error).cause;
      ctx.options.logger.debug({ requestId: ctx.requestId, err: (err as Error).message, ...(cause instanceof Error && { cause: cause.message }) }, "request failed");
      sendError(res, err, { "x-litellm-call-id": ctx.requestId });
    });
  void (tracingEnabled()
    ? traceHttpRequest(`${req.method} ${route}`, req.headers, { "http.request.method": req.method ?? "", "http.route": route, "gateway.request_id": ctx.requestId }, run, () => res.statusCode)
    : run());
}
