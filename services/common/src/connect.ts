import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter, Interceptor, Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";

export interface ConnectServer {
  port: number;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then closes. */
  close(graceMs?: number): Promise<void>;
}

export interface ServeOptions {
  port: number;
  host: string;
  /** Answers /health/liveliness and /health/readiness next to the RPCs. */
  ready?: () => boolean;
}

/** Serves Connect routes over HTTP/2 without TLS (h2c), for service-to-service calls. */
export async function serveConnect(routes: (router: ConnectRouter) => void, options: ServeOptions): Promise<ConnectServer> {
  const handler = connectNodeAdapter({
    routes,
    fallback(req, res) {
      const ready = options.ready?.() ?? true;
      const status = req.url === "/health/liveliness" ? 200 : req.url === "/health/readiness" ? (ready ? 200 : 503) : 404;
      res.writeHead(status);
      res.end();
    },
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // http2 servers wait for every session; ask them to finish, then end stragglers.
        for (const session of sessions) session.close();
        setTimeout(() => {
          for (const session of sessions) session.destroy();
        }, graceMs).unref();
      }),
  };
}

/** A binary Connect transport over HTTP/2 to a peer service, e.g. "http://keys:4001". */
export function connectTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors });
}
