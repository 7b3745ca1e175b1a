import { Code } from "@connectrpc/connect";
import type { GatewayConfig, PassThroughEndpointConfig } from "./config.js";
import { gatewayError } from "./errors.js";

// LiteLLM's pass-through endpoints (general_settings.pass_through_endpoints):
// gateway routes whose requests go as they are to a target of the config's,
// with its headers. The edge matches a request to its endpoint (the key, the
// client's headers) and the router again (the target, the credentials).

export interface PassThroughMatch {
  endpoint: PassThroughEndpointConfig;
  /** Where the request goes: the target, with the path under the endpoint's (include_subpath) and the query. */
  url: string;
}

const DEFAULT_TIMEOUT_S = 600;

export class PassThroughRoutes {
  private readonly exact = new Map<string, PassThroughEndpointConfig>();
  /** Endpoints with include_subpath, the longest path first. */
  private readonly prefixes: PassThroughEndpointConfig[];

  private constructor(endpoints: readonly PassThroughEndpointConfig[]) {
    for (const e of endpoints) this.exact.set(e.path, e);
    this.prefixes = endpoints.filter((e) => e.include_subpath).sort((a, b) => b.path.length - a.path.length);
  }

  /** The config's endpoints; undefined when it has none (nothing to match on the hot path). */
  static fromConfig(config: GatewayConfig): PassThroughRoutes | undefined {
    const endpoints = config.general_settings.pass_through_endpoints ?? [];
    return endpoints.length === 0 ? undefined : new PassThroughRoutes(endpoints);
  }

  /** The endpoint of a request target (path and query) and where it goes; undefined for none. */
  match(target: string): PassThroughMatch | undefined {
    const query = target.indexOf("?");
    const path = query < 0 ? target : target.slice(0, query);
    const rest = query < 0 ? "" : target.slice(query);
    const exact = this.exact.get(path);
    if (exact) return { endpoint: exact, url: exact.target + rest };
    for (const endpoint of this.prefixes) {
      const under = endpoint.path.replace(/\/$/, "");
      if (path.startsWith(`${under}/`)) return { endpoint, url: endpoint.target.replace(/\/$/, "") + path.slice(under.length) + rest };
    }
    return undefined;
  }
}

/** How long a request to the endpoint's target may take, in milliseconds. */
export function passThroughTimeoutMs(endpoint: PassThroughEndpointConfig): number {
  return (endpoint.timeout ?? DEFAULT_TIMEOUT_S) * 1000;
}

/** Refuses (405) a method the endpoint's `methods` leave out. */
export function checkPassThroughMethod(endpoint: PassThroughEndpointConfig, method: string): void {
  if (endpoint.methods && !(endpoint.methods as readonly string[]).includes(method)) {
    throw gatewayError(`${endpoint.path} takes ${endpoint.methods.join(", ")}, not ${method}`, Code.InvalidArgument, { type: "invalid_request_error", status: 405 });
  }
}
