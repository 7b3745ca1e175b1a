import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { gatewayError, type Logger } from "@gateway/common";
import { CallType, RouterService, type CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import { UsageEventSchema, UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import { chat, chatStream, costFor, validateChatBody, type Outcome, type ResponseInit } from "./chat-completion.js";
import type { Deployment } from "./config/deployment.js";
import type { ModelGroups } from "./config/model-groups.js";
import type { OpenAIBody } from "./providers/provider.js";
import { toConnectError } from "./provider-errors.js";
import type { UsagePublisher } from "./usage-publisher.js";

export interface RouterDeps {
  /** The current model list; replaced on config reload. */
  groups: () => ModelGroups;
  publisher: UsagePublisher;
  logger: Logger;
}

const decoder = new TextDecoder();

function parseBody(bytes: Uint8Array): OpenAIBody {
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(bytes));
  } catch {
    throw gatewayError("request body is not valid JSON", Code.InvalidArgument, { type: "invalid_request_error" });
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw gatewayError("request body must be a JSON object", Code.InvalidArgument, { type: "invalid_request_error" });
  }
  return body as OpenAIBody;
}

function pickDeployment(groups: ModelGroups, model: unknown): Deployment {
  if (typeof model !== "string" || model === "") {
    throw gatewayError("model is required", Code.InvalidArgument, { type: "invalid_request_error", param: "model" });
  }
  const deployments = groups.get(model);
  if (!deployments || deployments.length === 0) {
    throw gatewayError(`Invalid model name passed in model=${model}. Available models: ${groups.names().join(", ")}`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    });
  }
  return deployments[Math.floor(Math.random() * deployments.length)] as Deployment;
}

export function createRouterService(deps: RouterDeps): ServiceImpl<typeof RouterService> {
  function publishUsage(req: CompleteRequest, body: OpenAIBody | undefined, outcome: Outcome, startMs: number, error: ConnectError | undefined) {
    const d = outcome.deployment;
    const usage = outcome.usage;
    const endMs = Date.now();
    deps.publisher.publish(
      create(UsageEventSchema, {
        requestId: req.requestId,
        keyHash: req.keyHash,
        keyAlias: req.keyAlias,
        userId: req.userId,
        teamId: req.teamId,
        modelGroup: typeof body?.["model"] === "string" ? body["model"] : "",
        deploymentId: d?.id ?? "",
        provider: d?.provider ?? "",
        providerModel: d?.providerModel ?? "",
        promptTokens: usage?.promptTokens ?? 0,
        completionTokens: usage?.completionTokens ?? 0,
        totalTokens: (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0),
        cost: d && usage ? costFor(d, usage) : 0,
        startTime: timestampFromMs(startMs),
        endTime: timestampFromMs(endMs),
        latencyMs: endMs - startMs,
        status: error ? UsageStatus.FAILURE : UsageStatus.SUCCESS,
        errorType: error ? (error.metadata.get("x-error-type") ?? Code[error.code]) : "",
        httpStatus: error ? Number(error.metadata.get("x-http-status") ?? 500) : 200,
        stream: body?.["stream"] === true,
        usageEstimated: outcome.usageEstimated,
        callType: "chat_completions",
      }),
    );
  }

  return {
    async *complete(req: CompleteRequest, ctx: HandlerContext): AsyncGenerator<ResponseInit> {
      const startMs = Date.now();
      const outcome: Outcome = { deployment: undefined, usage: undefined, usageEstimated: false };
      let body: OpenAIBody | undefined;
      // Stays set until the request finishes cleanly, so a client that walks
      // away mid-stream is recorded as a failure too.
      let error: ConnectError | undefined = gatewayError("client closed the request", Code.Canceled, {
        type: "request_cancelled",
        status: 499,
      });
      try {
        if (req.callType !== CallType.CHAT_COMPLETIONS) {
          throw new ConnectError(`call type ${CallType[req.callType]} is not supported`, Code.Unimplemented);
        }
        body = parseBody(req.body);
        const d = pickDeployment(deps.groups(), body["model"]);
        validateChatBody(body);
        const timeoutMs = body["stream"] === true ? d.streamTimeoutMs : d.timeoutMs;
        const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
        yield* body["stream"] === true ? chatStream(d, body, signal, outcome) : chat(d, body, signal, outcome);
        error = undefined;
      } catch (err) {
        error = toConnectError(err);
        throw error;
      } finally {
        publishUsage(req, body, outcome, startMs, error);
      }
    },

    listModels(req) {
      const groups = deps.groups();
      const only = new Set(req.only);
      const names = only.size === 0 ? groups.names() : groups.names().filter((n) => only.has(n));
      return { models: names.map((name) => ({ name, created: BigInt(groups.loadedAt) })) };
    },
  };
}

export const routerRoutes = (impl: ServiceImpl<typeof RouterService>) => (router: ConnectRouter) =>
  router.service(RouterService, impl);
