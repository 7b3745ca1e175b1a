import type { IncomingMessage, ServerResponse } from "node:http";
import type { DatabaseProbe, Logger, ObjectIds, PassThroughRoutes } from "@gateway/common";
import type { AllowedIps } from "./allowed-ips.js";
import type { AuthCache } from "./auth-cache.js";
import type { Peers } from "./peers.js";

export interface EdgeOptions {
  peers: Peers;
  /** Kept Authorize answers, when the keys service is another process (split). */
  authCache?: AuthCache | undefined;
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** litellm_settings.require_auth_for_metrics_endpoint: GET /metrics asks for a key that reads everything. */
  metricsNeedAuth: boolean;
  /**
   * The master key, as config.yaml gives it: the edge's own credential for the
   * router's model admin and the accounting service's spend queries, which
   * refuse calls without it. Absent, those calls carry the caller's key.
   */
  masterKey?: string | undefined;
  /** general_settings.litellm_key_header_name, in lower case: a header the caller's key may come in, ahead of every other. */
  keyHeader?: string | undefined;
  /** general_settings.allowed_ips: the clients served; absent, every one. */
  allowedIps?: AllowedIps | undefined;
  /** general_settings.enforce_user_param: a model call must name its end user. */
  enforceUserParam?: boolean | undefined;
  /** litellm_settings.max_end_user_budget_id: /budget/new or /budget/update of it reads what each end user has spent, for those it holds by default. */
  defaultEndUserBudgetId?: string | undefined;
  /** general_settings.reject_clientside_metadata_tags: a model call may not carry tags of its own. */
  rejectClientTags?: boolean | undefined;
  /** general_settings.pass_through_endpoints; absent when the config has none. */
  passThrough?: PassThroughRoutes | undefined;
  /** Reads the file and batch ids the gateway gives (the routers' secret). */
  objectIds: ObjectIds;
  /** Whether the services behind the edge are ready to serve. */
  ready: () => boolean;
  /** The database of the services in this process, for readiness's "db" field; absent on a split edge, which holds none. */
  database?: DatabaseProbe | undefined;
}

/** One HTTP request on its way through the edge. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request target's path, without its query. */
  path: string;
  /** Gateway-made (never the client's), so ledger rows cannot collide. */
  requestId: string;
  options: EdgeOptions;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void>;
