import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import type { DatabaseProbe } from "./database-probe.js";
import { serviceErrorInterceptor } from "./errors.js";
import { H2Handlers } from "./h2-handlers.js";
import { h2Transport } from "./h2-transport.js";
import type { InternalCredential } from "./internal-credential.js";
import { sendMetrics } from "./metrics.js";
import { readinessAnswer } from "./readiness.js";
import { traceClientInterceptor, traceServerInterceptor, tracingEnabled } from "./tracing.js";

export interface ConnectServer {
  port: number;
  /**
   * Stops accepting connections, lets running calls (streams included)
   * finish for up to `graceMs`, then cuts what is left.
   */
  close(graceMs?: number): Promise<void>;
}

export interface ServeOptions {
  port: number;
  host: string;
  /** What every call must carry (or the master key as its bearer token); health probes and /metrics stay open. */
  credential: InternalCredential;
  /** Answers /health/liveliness and /health/readiness next to the RPCs. */
  ready?: () => boolean;
  /** The service's database, for readiness's "db" field. */
  database?: DatabaseProbe | undefined;
  /** Called when closing starts: streams that never end by themselves end now. */
  closing?: () => void;
  /** The largest request message taken, in bytes, so whoever reaches the port cannot fill its memory (default 64 MiB). */
  maxMessageBytes?: number;
}

const DEFAULT_GRACE_MS = 25_000;
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 2 ** 20;

/**
 * The memory (in MB) an HTTP/2 connection between the services may hold
 * before it refuses new calls: room for a few of the largest messages at
 * once. Node's default, 10 MB, is less than one large request or answer, and
 * while one was on its way every other call on the connection (other
 * clients' calls) was refused with ENHANCE_YOUR_CALM.
 */
function sessionMemoryMb(maxMessageBytes: number): number {
  return Math.ceil((4 * maxMessageBytes) / 2 ** 20);
}
// Every HTTP/2 connection opens with this preface; no HTTP/1 request line starts so.
const H2_PREFACE_START = "PRI";

/**
 * Serves Connect routes on one port in two dialects: HTTP/2 without TLS
 * (h2c) for the services calling each other, and HTTP/1.1 for health
 * probes, metrics scrapers and curl, which do not speak h2c.
 */
export async function serveConnect(routes: (router: ConnectRouter) => void, options: ServeOptions): Promise<ConnectServer> {
  // Without tracing, our own binary calls skip connect-node (h2-handlers.ts).
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const fast = tracingEnabled() ? undefined : new H2Handlers(maxMessageBytes, options.credential);
  const handler = connectNodeAdapter({
    readMaxBytes: maxMessageBytes,
    routes: (router) => routes(fast ? fast.recording(router) : router),
    // Outermost first: the trace records the error the caller gets. The
    // fallback below (health, metrics) takes no interceptor, so it stays open.
    interceptors: tracingEnabled() ? [traceServerInterceptor, serviceErrorInterceptor, options.credential.gate] : [serviceErrorInterceptor, options.credential.gate],
    fallback(req, res) {
      if (req.url === "/metrics") return void sendMetrics(res);
      if (req.url === "/health/readiness") {
        return void readinessAnswer(options.ready?.() ?? true, options.database).then(({ status, body }) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(body));
        });
      }
      res.writeHead(req.url === "/health/liveliness" ? 200 : 404);
      res.end();
    },
  });
  const h2 = http2.createServer({ maxSessionMemory: sessionMemoryMb(maxMessageBytes) }, handler);
  if (fast) serveFastFirst(h2, fast);
  const h1 = http.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  let closing: Promise<void> | undefined;
  h1.prependListener("request", (_req, res) => {
    if (closing) res.shouldKeepAlive = false;
  });
  // Connections that have not said which dialect they speak yet (TCP probes).
  const undecided = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    undecided.add(socket);
    const dropped = () => {
      undecided.delete(socket);
      socket.destroy();
    };
    socket.once("error", dropped);
    socket.once("end", dropped);
    socket.once("data", (head: Buffer) => {
      undecided.delete(socket);
      socket.off("error", dropped);
      socket.off("end", dropped);
      // Hand the socket, first bytes included, to the server of its dialect:
      // the HTTP/2 session reads what is buffered itself, HTTP/1 needs the flow resumed.
      socket.pause();
      socket.unshift(head);
      if (head.subarray(0, H2_PREFACE_START.length).toString("latin1") === H2_PREFACE_START) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  // Node tracks an HTTP server's connections, which closeIdleConnections and
  // closeAllConnections act on, from its "listening" event; h1 gets its
  // connections from `server` and never listens itself.
  h1.emit("listening");
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs = DEFAULT_GRACE_MS) =>
      (closing ??= new Promise<void>((resolve) => {
        options.closing?.();
        // Resolves once every connection, of either dialect, has ended.
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        // GOAWAY: callers open no new streams here and move to another
        // replica; streams already running go on to their end.
        for (const session of sessions) session.close();
        h1.closeIdleConnections();
        // Connections busy now close as soon as their response is out.
        h1.keepAliveTimeout = 1;
        for (const socket of undecided) socket.destroy();
        const deadline = setTimeout(() => {
          for (const session of sessions) session.destroy();
          h1.closeAllConnections();
        }, graceMs);
        deadline.unref();
      })),
  };
}

/**
 * Puts the fast handlers in front of the HTTP/2 server's own stream listener,
 * the one that builds request and response objects for connect-node.
 */
function serveFastFirst(h2: http2.Http2Server, fast: H2Handlers): void {
  type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;
  const compatibility = h2.listeners("stream") as StreamListener[];
  h2.removeAllListeners("stream");
  h2.on("stream", (...[stream, headers, flags, rawHeaders]: Parameters<StreamListener>) => {
    if (fast.serve(stream, headers)) return;
    for (const listener of compatibility) listener.call(h2, stream, headers, flags, rawHeaders);
  });
}

/**
 * A binary Connect transport over HTTP/2 to a peer service, e.g.
 * "http://keys:4001", its calls carrying `credential`: our lean one
 * (h2-transport.ts), or connect-node's when calls go through interceptors
 * (tracing) or over TLS. `maxMessageBytes` is the largest request the peer
 * takes (ServeOptions.maxMessageBytes), which sizes the connection's memory.
 */
export function connectTransport(baseUrl: string, credential: InternalCredential, maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): Transport {
  const maxSessionMemory = sessionMemoryMb(maxMessageBytes);
  if (!tracingEnabled() && baseUrl.startsWith("http:")) return h2Transport(baseUrl, credential, maxSessionMemory);
  return createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    nodeOptions: { maxSessionMemory },
    interceptors: tracingEnabled() ? [traceClientInterceptor, credential.sender] : [credential.sender],
  });
}
