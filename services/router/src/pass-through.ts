import { Code } from "@connectrpc/connect";
import { checkPassThroughMethod, gatewayError, passThroughTimeoutMs, PassThroughRoutes, type GatewayConfig, type PassThroughEndpointConfig } from "@gateway/common";
import type { CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import type { Dispatcher } from "undici";
import { buildDeployment, type Deployment } from "./config/deployment.js";
import { finished, media, started, type CallEvent, type Outcome } from "./outcome.js";
import { agent, transportError } from "./providers/http.js";
import { request } from "./providers/undici-parts.js";

// LiteLLM's pass-through endpoints (general_settings.pass_through_endpoints):
// the request goes as it is, body and method, to the endpoint's target with
// its headers (the credentials the gateway holds), and the target's answer
// comes back as it is, status and body, streamed as it arrives. Each is
// booked in the ledger at its cost_per_request (nothing when the target
// answers 400 or more), under a deployment of its own (model group: the
// endpoint's path). Read at start.

const NO_BODY = new Set(["GET", "HEAD"]);

// The target's response headers the client gets besides its media type (in Started's provider headers).
const PASSED_BACK = ["content-disposition", "cache-control", "etag", "last-modified", "retry-after", "location"];

/** The endpoint's ledger identity: a deployment that calls nobody, priced per request. */
function deploymentOf(endpoint: PassThroughEndpointConfig, config: GatewayConfig, i: number): Deployment {
  const entry = {
    model_name: endpoint.path,
    litellm_params: { model: "openai/pass-through", api_base: endpoint.target },
    model_info: { id: `pass-through:${endpoint.path}`, input_cost_per_token: 0, output_cost_per_token: 0 },
  };
  const d = buildDeployment(entry, config, new Set(["openai"]), `general_settings.pass_through_endpoints[${i}]`);
  return { ...d, provider: "pass_through", providerModel: endpoint.target };
}

export class PassThrough {
  private readonly deployments = new Map<string, Deployment>();

  private constructor(
    private readonly routes: PassThroughRoutes,
    config: GatewayConfig,
  ) {
    for (const [i, endpoint] of (config.general_settings.pass_through_endpoints ?? []).entries()) this.deployments.set(endpoint.path, deploymentOf(endpoint, config, i));
  }

  /** The config's endpoints; undefined when it has none. */
  static fromConfig(config: GatewayConfig): PassThrough | undefined {
    const routes = PassThroughRoutes.fromConfig(config);
    return routes && new PassThrough(routes, config);
  }

  /** Calls the endpoint the request's path names; its events once the target has answered (whatever its status). */
  async call(req: CompleteRequest, signal: AbortSignal, outcome: Outcome): Promise<AsyncIterable<CallEvent>> {
    const match = this.routes.match(req.path);
    if (!match) throw gatewayError(`no pass-through endpoint at ${req.path.split("?")[0]}`, Code.NotFound, { type: "not_found_error" });
    const { endpoint, url } = match;
    checkPassThroughMethod(endpoint, req.method);
    const d = this.deployments.get(endpoint.path)!;
    outcome.deployment = d;
    outcome.callName = "pass_through_endpoint";
    outcome.usage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, unitCost: endpoint.cost_per_request };
    const headers: Record<string, string> = { ...req.providerHeaders };
    if (req.contentType !== "") headers["content-type"] = req.contentType;
    for (const [name, value] of Object.entries(endpoint.headers)) headers[name.toLowerCase()] = value;
    const called = AbortSignal.any([signal, AbortSignal.timeout(passThroughTimeoutMs(endpoint))]);
    let response: Dispatcher.ResponseData;
    try {
      const { origin } = new URL(url);
      response = await request(agent, {
        origin,
        path: url.slice(origin.length) || "/",
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: NO_BODY.has(req.method) ? null : Buffer.from(req.body),
        signal: called,
      });
    } catch (err) {
      throw transportError(err, endpoint.path, called);
    }
    // A target's refusal or failure is booked as such, and costs nothing.
    if (response.statusCode >= 400) {
      outcome.failure = `upstream_status_${response.statusCode}`;
      outcome.usage.unitCost = 0;
    }
    return this.events(d, response, outcome);
  }

  private async *events(d: Deployment, response: Dispatcher.ResponseData, outcome: Outcome): AsyncGenerator<CallEvent> {
    const type = response.headers["content-type"];
    const contentType = typeof type === "string" ? type : "application/octet-stream";
    const head = started(d);
    const headers: Record<string, string> = {};
    for (const name of PASSED_BACK) {
      const value = response.headers[name];
      if (typeof value === "string") headers[name] = value;
    }
    if (head.event.case === "started") head.event.value.providerHeaders = headers;
    yield head;
    let first = true;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      yield media(first ? contentType : "", chunk, first ? response.statusCode : 0);
      first = false;
    }
    if (first) yield media(contentType, new Uint8Array(), response.statusCode);
    yield finished(outcome, d, outcome.usage!);
  }
}
