// LiteLLM's allowed_routes on a key: the edge routes it may call, each a
// path ("/v1/embeddings"), a path prefix ending in "*" ("/key/*"), or one of
// LiteLLM's route groups. Paths match with or without "/v1", as the edge
// serves OpenAI's routes both ways.

import { Code } from "@connectrpc/connect";
import { gatewayError } from "./errors.js";

const ROUTE_GROUPS: ReadonlyMap<string, readonly string[]> = new Map(Object.entries({
  llm_api_routes: [
    "/chat/completions",
    "/completions",
    "/responses",
    "/embeddings",
    "/images/*",
    "/audio/*",
    "/rerank",
    "/v2/rerank",
    "/moderations",
    "/files",
    "/files/*",
    "/batches",
    "/batches/*",
    "/messages",
    "/messages/count_tokens",
    "/utils/token_counter",
    "/models",
    "/models/*",
    "/v1beta/models",
    "/v1beta/models/*",
  ],
  info_routes: ["/key/info", "/v2/key/info", "/key/list", "/team/info", "/team/list", "/v2/team/list", "/organization/list", "/user/info", "/model/info", "/model_group/info", "/models", "/models/*", "/v1beta/models"],
  management_routes: ["/key/*", "/v2/key/*", "/team/*", "/v2/team/*", "/organization/*", "/user/*", "/model/*", "/customer/*", "/end_user/*", "/tag/*", "/budget/*", "/cache/*", "/provider/budgets"],
  spend_tracking_routes: ["/spend/*", "/global/spend*", "/global/all_end_users", "/global/activity*", "/user/daily/activity*", "/team/daily/activity*", "/organization/daily/activity*", "/tag/daily/activity*", "/customer/daily/activity*", "/end_user/daily/activity*"],
}));

/** Whether `route` is something allowed_routes may hold: a path or a route group's name. */
export const isRouteSpec = (route: string): boolean => route.startsWith("/") || ROUTE_GROUPS.has(route);

export const ROUTE_GROUP_NAMES: readonly string[] = [...ROUTE_GROUPS.keys()];

const withoutV1 = (path: string) => (path.startsWith("/v1/") ? path.slice(3) : path);

function matches(pattern: string, path: string): boolean {
  const p = withoutV1(pattern);
  return p.endsWith("*") ? path.startsWith(p.slice(0, -1)) : path === p;
}

/** Whether a key limited to `allowed` (empty: every route) may call `path`. */
export function routeAllowed(allowed: readonly string[], path: string): boolean {
  if (allowed.length === 0) return true;
  const plain = withoutV1(path);
  return allowed.some((spec) => (ROUTE_GROUPS.get(spec) ?? [spec]).some((pattern) => matches(pattern, plain)));
}

/** A key whose allowed_routes leave out the route it called, refused as LiteLLM refuses it. */
export function routeRefused(path: string, allowed: readonly string[]): Error {
  return gatewayError(`Virtual key is not allowed to call this route. Only allowed to call routes: ${JSON.stringify(allowed)}. Tried to call route: ${path}`, Code.PermissionDenied, {
    type: "permission_error",
  });
}
