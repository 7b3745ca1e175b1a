import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { EdgeOptions, RequestContext, RouteHandler } from "./context.js";
import { observeRequest } from "./observe.js";
import { chatCompletions } from "./routes/chat-completions.js";
import { embeddings } from "./routes/embeddings.js";
import { globalSpendKeys, globalSpendModels, globalSpendReport } from "./routes/global-spend.js";
import { liveliness, readiness } from "./routes/health.js";
import { blockKey, deleteKeys, generateKey, keyInfoRoute, listKeys, regenerateKey, unblockKey, updateKey } from "./routes/keys.js";
import { messages } from "./routes/messages.js";
import { metricsRoute } from "./routes/metrics.js";
import { deleteModel, health, modelInfo, newModel } from "./routes/model-admin.js";
import { listModels } from "./routes/models.js";
import { spendLogs } from "./routes/spend.js";

// Every route by "METHOD path"; OpenAI routes answer with and without /v1, as LiteLLM's do.
const ROUTES = new Map<string, RouteHandler>([
  ["POST /v1/chat/completions", chatCompletions],
  ["POST /chat/completions", chatCompletions],
  ["POST /v1/embeddings", embeddings],
  ["POST /embeddings", embeddings],
  ["POST /v1/messages", messages],
  ["GET /v1/models", listModels],
  ["GET /models", listModels],
  ["GET /health/liveliness", liveliness],
  ["GET /health/liveness", liveliness],
  ["GET /health/readiness", readiness],
  ["GET /metrics", metricsRoute],
  ["GET /spend/logs", spendLogs],
  ["GET /global/spend/report", globalSpendReport],
  ["GET /global/spend/keys", globalSpendKeys],
  ["GET /global/spend/models", globalSpendModels],
  ["POST /key/generate", generateKey],
  ["POST /key/update", updateKey],
  ["GET /key/info", keyInfoRoute],
  ["GET /key/list", listKeys],
  ["POST /key/delete", deleteKeys],
  ["POST /key/regenerate", regenerateKey],
  ["POST /key/block", blockKey],
  ["POST /key/unblock", unblockKey],
  ["POST /model/new", newModel],
  ["POST /model/delete", deleteModel],
  ["GET /model/info", modelInfo],
  ["GET /v1/model/info", modelInfo],
  ["GET /health", health],
]);

// Routes with a parameter in the path.
const KEY_REGENERATE = /^\/key\/[^/]+\/regenerate$/;

function routeFor(method: string | undefined, path: string): RouteHandler | undefined {
  return ROUTES.get(`${method} ${path}`) ?? (method === "POST" && KEY_REGENERATE.test(path) ? regenerateKey : undefined);
}

/** A routed request's path as metrics and traces name it: a few fixed names, whatever the client sends. */
function routeLabel(method: string | undefined, path: string): string {
  return ROUTES.has(`${method} ${path}`) ? path : "/key/{key}/regenerate";
}

export interface EdgeServer {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops accepting connections and lets requests in flight, streams
   * included, finish for up to `graceMs`; then cuts what is left, so a
   * stream still running ends without [DONE].
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 25_000;

/** `tls` (key and certificate) makes the edge serve HTTPS itself, for setups without a reverse proxy. */
export function createEdgeServer(options: EdgeOptions, tls?: Pick<TlsServerOptions, "key" | "cert">): EdgeServer {
  const serverOptions = { keepAliveTimeout: 65_000 };
  const server: Server = (tls ? createTlsServer({ ...serverOptions, ...tls }, handle) : createServer(serverOptions, handle)) as Server;
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    const ctx: RequestContext = { req, res, path, requestId: randomUUID(), options };
    const handler = routeFor(req.method, path);
    observeRequest(ctx, handler ? routeLabel(req.method, path) : "unmatched", async () => {
      if (!handler) throw notFound(req.method, path);
      await handler(ctx);
    });
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: (graceMs = DEFAULT_GRACE_MS) =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        // A request that still arrives on an open connection is served, and
        // its connection closed after it; busy connections close once idle.
        server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
          res.shouldKeepAlive = false;
        });
        server.keepAliveTimeout = 1;
        server.closeIdleConnections();
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        deadline.unref();
      })),
  };
}

// A path of plain segments, as every route's is; anything else (dot segments,
// escapes, backslashes, an absolute-form target) goes through the URL parser.
const PLAIN_PATH = /^(\/[\w.-]*)+$/;

/** The request target's path, as the URL parser gives it, without parsing the common case. */
function pathOf(target = "/"): string {
  const query = target.indexOf("?");
  const path = query === -1 ? target : target.slice(0, query);
  return PLAIN_PATH.test(path) && !path.includes("/.") ? path : new URL(target, "http://edge").pathname;
}

function notFound(method: string | undefined, path: string): Error {
  return gatewayError(`no route for ${method} ${path}`, Code.NotFound, { type: "invalid_request_error" });
}
