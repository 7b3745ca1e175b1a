import type { IncomingMessage } from "node:http";
import { once } from "node:events";
import { checkPassThroughMethod, LightAbortController, routeAllowed, routeRefused, type PassThroughEndpointConfig } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import type { RequestContext } from "../context.js";
import { apiKeyOf, readBody } from "../http.js";

// LiteLLM's pass-through endpoints (general_settings.pass_through_endpoints):
// the request goes as it is to the endpoint's target, by way of the router,
// which holds the target's credentials and books the request; the target's
// answer comes back as it is. With auth (the default here), the caller's key
// must be valid and allowed the route, and its budgets and rate limits hold
// with the endpoint's cost_per_request.

// Client headers never sent on: hop-by-hop ones, the body's framing (the router sends the body whole), and the gateway's own credentials.
const NOT_FORWARDED = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "content-length",
  "content-type",
  "expect",
  // The answer's bytes go back as they come, without its content-encoding: none is asked for.
  "accept-encoding",
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-litellm-api-key",
  "x-goog-api-key",
  "cookie",
]);

/** The client's headers the target may see (forward_headers), without anything that carries a key. */
function forwarded(req: IncomingMessage, keyHeader: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || NOT_FORWARDED.has(name) || name === keyHeader) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/** What the request's query adds to its path, "" when none. */
function queryOf(url: string | undefined): string {
  const at = url?.indexOf("?") ?? -1;
  return at < 0 ? "" : url!.slice(at);
}

export async function passThrough(ctx: RequestContext, endpoint: PassThroughEndpointConfig): Promise<void> {
  const { req, res, requestId, options } = ctx;
  const method = req.method ?? "GET";
  checkPassThroughMethod(endpoint, method);
  const body = await readBody(req, options.maxBodyBytes);
  const auth: AuthorizeResponse | undefined = endpoint.auth
    ? await options.peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId, access: Access.INFERENCE, fixedCost: endpoint.cost_per_request, route: ctx.path })
    : undefined;
  let cost = 0;
  let released = false;
  const release = () => {
    if (released || !auth?.reserved) return;
    released = true;
    options.peers.keys.release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost }).catch((err: unknown) => {
      options.logger.error({ requestId, err: (err as Error).message }, "releasing the key's reservation failed");
    });
  };
  const abort = new LightAbortController();
  const onClose = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.on("close", onClose);
  try {
    if (auth && !routeAllowed(auth.allowedRoutes, ctx.path)) throw routeRefused(ctx.path, auth.allowedRoutes);
    const events = options.peers.router.complete(
      {
        requestId,
        callType: CallType.PASS_THROUGH,
        body,
        contentType: req.headers["content-type"] ?? "",
        method,
        path: ctx.path + queryOf(req.url),
        providerHeaders: endpoint.forward_headers ? forwarded(req, options.keyHeader) : {},
        keyHash: auth?.keyHash ?? "",
        keyAlias: auth?.keyAlias ?? "",
        userId: auth?.userId ?? "",
        teamId: auth?.teamId ?? "",
        teamAlias: auth?.teamAlias ?? "",
        reservationHolder: auth?.reserved ? auth.holder : "",
      },
      { signal: abort.signal },
    );
    let targetHeaders: Record<string, string> = {};
    for await (const { event } of events) {
      if (event.case === "started") targetHeaders = event.value.providerHeaders;
      if (event.case === "finished") cost = event.value.cost;
      if (event.case !== "media") continue;
      const { status, contentType, data } = event.value;
      if (!res.headersSent) res.writeHead(status || 200, { ...targetHeaders, "content-type": contentType, "x-litellm-call-id": requestId });
      if (!res.write(data)) await once(res, "drain");
    }
    res.end();
  } catch (err) {
    // Once the target's answer has begun, nothing else can be said: the answer is cut short.
    if (!res.headersSent) throw err;
    res.destroy();
  } finally {
    res.off("close", onClose);
    release();
  }
}
