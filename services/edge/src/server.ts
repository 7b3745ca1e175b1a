import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { EdgeOptions, RequestContext, RouteHandler } from "./context.js";
import { sendError } from "./openai-errors.js";
import { chatCompletions } from "./routes/chat-completions.js";
import { liveliness, readiness } from "./routes/health.js";
import { listModels } from "./routes/models.js";
import { spendLogs } from "./routes/spend.js";

// Every route by "METHOD path"; OpenAI routes answer with and without /v1, as LiteLLM's do.
const ROUTES = new Map<string, RouteHandler>([
  ["POST /v1/chat/completions", chatCompletions],
  ["POST /chat/completions", chatCompletions],
  ["GET /v1/models", listModels],
  ["GET /models", listModels],
  ["GET /health/liveliness", liveliness],
  ["GET /health/liveness", liveliness],
  ["GET /health/readiness", readiness],
  ["GET /spend/logs", spendLogs],
]);

export interface EdgeServer {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createEdgeServer(options: EdgeOptions): EdgeServer {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const url = new URL(req.url ?? "/", "http://edge");
    const ctx: RequestContext = { req, res, url, requestId: randomUUID(), options };
    const handler = ROUTES.get(`${req.method} ${url.pathname}`);
    if (!handler) {
      sendError(res, notFound(req.method, url.pathname));
      return;
    }
    handler(ctx).catch((err: unknown) => {
      options.logger.debug({ requestId: ctx.requestId, err: (err as Error).message }, "request failed");
      sendError(res, err, { "x-litellm-call-id": ctx.requestId });
    });
  });
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function notFound(method: string | undefined, path: string): Error {
  return gatewayError(`no route for ${method} ${path}`, Code.NotFound, { type: "invalid_request_error" });
}
