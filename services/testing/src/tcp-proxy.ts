import { connect, createServer, type Server, type Socket } from "node:net";

/** One connection through a TcpProxy: the client's side and the target's. */
export interface ProxiedConnection {
  client: Socket;
  target: Socket;
  /** Closes both sides. */
  cut(): void;
}

export interface TcpProxyHooks {
  /** Sees each chunk the client sends; only what it writes to `connection.target` goes on. Unset: everything goes on. */
  fromClient?: (bytes: Buffer, connection: ProxiedConnection) => void;
  /** Sees each chunk the target sends; only what it writes to `connection.client` goes back. Unset: everything goes back. */
  fromTarget?: (bytes: Buffer, connection: ProxiedConnection) => void;
}

/**
 * A TCP proxy on loopback in front of a server (Postgres, in the tests that
 * use it), to break the connections through it as a restart, a failover or
 * a network can: cut them all, refuse new ones, stop passing bytes without
 * closing anything (a server that froze), or act on what passes (hooks).
 */
export class TcpProxy {
  private readonly connections = new Set<ProxiedConnection>();
  /** While true, each new connection is closed at once. */
  refusing = false;
  private frozen = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }, hooks: TcpProxyHooks = {}): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    server.on("connection", (client) => proxy.pass(client, connect(target), hooks));
    return proxy;
  }

  /** A postgres:// (or any) URL with its host and port made this proxy's. */
  urlTo(url: string): string {
    const through = new URL(url);
    through.hostname = "127.0.0.1";
    through.port = String(this.port);
    return through.toString();
  }

  /** Closes every connection through the proxy. */
  cut(): void {
    for (const c of this.connections) c.cut();
  }

  /** Stops passing bytes on (true), leaving every connection open, or passes them again (false). */
  freeze(on: boolean): void {
    this.frozen = on;
    for (const c of this.connections) for (const s of [c.client, c.target]) on ? s.pause() : s.resume();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private pass(client: Socket, target: Socket, hooks: TcpProxyHooks): void {
    const connection: ProxiedConnection = { client, target, cut: () => [client, target].forEach((s) => s.destroy()) };
    if (this.refusing) return connection.cut();
    this.connections.add(connection);
    for (const s of [client, target]) {
      s.on("error", () => {});
      s.on("close", () => {
        this.connections.delete(connection);
        connection.cut();
      });
      if (this.frozen) s.pause();
    }
    client.on("data", (bytes: Buffer) => (hooks.fromClient ? hooks.fromClient(bytes, connection) : target.write(bytes)));
    target.on("data", (bytes: Buffer) => (hooks.fromTarget ? hooks.fromTarget(bytes, connection) : client.write(bytes)));
  }
}
