import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";

// Kubernetes' and compose's probes come from wherever their node is; they reach these whatever the list says.
const PROBES: ReadonlySet<string> = new Set(["/health/liveliness", "/health/liveness", "/health/readiness"]);

/**
 * general_settings.allowed_ips: the client addresses and ranges the edge
 * serves (every route but the health probes). The client is the connection's
 * peer, or, with use_x_forwarded_for (a proxy in front, such as Caddy), the
 * last address of its X-Forwarded-For: the one the proxy wrote. A proxy that
 * appends (nginx, load balancers) keeps what the client sent before it, so an
 * address further left is whatever the client chose to claim.
 */
export class AllowedIps {
  private readonly list = new BlockList();

  constructor(
    entries: readonly string[],
    private readonly forwardedFor: boolean,
  ) {
    for (const entry of entries) {
      const [address = "", prefix] = entry.split("/");
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, Number(prefix), family);
    }
  }

  /** Throws the 403 for a client the list leaves out. */
  check(req: IncomingMessage, path: string): void {
    if (PROBES.has(path)) return;
    const client = this.clientOf(req);
    if (isIP(client) !== 0 && this.list.check(client, isIP(client) === 6 ? "ipv6" : "ipv4")) return;
    throw gatewayError(`Access forbidden: IP address ${client.replace(/^::ffff:(?=\d+\.)/, "")} not allowed.`, Code.PermissionDenied, { type: "permission_error" });
  }

  private clientOf(req: IncomingMessage): string {
    const forwarded = this.forwardedFor ? req.headers["x-forwarded-for"] : undefined;
    const last = typeof forwarded === "string" ? forwarded.slice(forwarded.lastIndexOf(",") + 1).trim() : "";
    return last || (req.socket.remoteAddress ?? "");
  }
}
