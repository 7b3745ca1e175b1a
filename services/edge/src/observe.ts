import { describeError, metrics, traceHttpRequest, tracingEnabled, type ErrorDetails } from "@gateway/common";
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
      errorType = logFailure(ctx, err).type;
      sendError(res, err, { "x-litellm-call-id": ctx.requestId });
    });
  void (tracingEnabled()
    ? traceHttpRequest(`${req.method} ${route}`, req.headers, { "http.request.method": req.method ?? "", "http.route": route, "gateway.request_id": ctx.requestId }, run, () => res.statusCode)
    : run());
}

/**
 * Logs why a request failed, under its request id: at debug when the failure
 * is the client's or a provider's to explain (its answer says why), at error
 * with the stack when the gateway did not expect it, as the client is told
 * only "internal error".
 */
export function logFailure(ctx: RequestContext, err: unknown): ErrorDetails {
  const details = describeError(err);
  const cause = (err as Error).cause;
  const fields = { requestId: ctx.requestId, err: (err as Error).message, ...(cause instanceof Error && { cause: cause.message }) };
  if (details.unexpected) ctx.options.logger.error({ ...fields, stack: (cause instanceof Error ? cause : (err as Error)).stack }, "request failed unexpectedly");
  else ctx.options.logger.debug(fields, "request failed");
  return details;
}
