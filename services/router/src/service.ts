import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  answerCount,
  DIRECT_PROTOCOL,
  END_USER_MAX_CHARS,
  formFields,
  gatewayError,
  isUnexpected,
  parsedBody,
  requestFallbacks,
  requestRetries,
  requestStreamTimeoutMs,
  requestTags,
  requestTimeoutMs,
  requireMasterKey,
  SESSION_ID_MAX_CHARS,
  SPEND_LOGS_METADATA_MAX_BYTES,
  tokensOnWire,
  type Logger,
} from "@gateway/common";
import type { ReleaseRequest } from "@gateway/proto/keys/v1/keys_pb.js";
import { CallType, RouterService, type CompleteRequest } from "@gateway/proto/router/v1/router_pb.js";
import { UsageStatus } from "@gateway/proto/usage/v1/usage_event_pb.js";
import type { RouterBudgets } from "./budgets.js";
import { cacheStatus } from "./cache-status.js";
import { calculateCost } from "./calculate-cost.js";
import { cacheUse, keptAnswer, replay } from "./cached-answers.js";
import { CALL_HANDLERS } from "./calls.js";
import { CompleteEvents } from "./complete-events.js";
import { costFor, type Outcome, type CallEvent } from "./outcome.js";
import type { OpenAIBody } from "./providers/provider.js";
import { toConnectError } from "./provider-errors.js";
import { createCredential } from "./credential-admin/create-credential.js";
import type { CredentialStore } from "./credential-admin/credential-store.js";
import { deleteCredential } from "./credential-admin/delete-credential.js";
import { getCredential, listCredentials } from "./credential-admin/get-credentials.js";
import { updateCredential } from "./credential-admin/update-credential.js";
import { addModel } from "./model-admin/add-model.js";
import type { BackgroundHealth } from "./model-admin/background-health.js";
import { checkHealth } from "./model-admin/check-health.js";
import { deleteModel } from "./model-admin/delete-model.js";
import { getModelInfo } from "./model-admin/get-model-info.js";
import type { ModelStore } from "./model-admin/model-store.js";
import { updateModel } from "./model-admin/update-model.js";
import type { LiveModelList } from "./model-list.js";
import type { FilesApi } from "./files.js";
import type { PassThrough } from "./pass-through.js";
import { withoutGatewayFields } from "./gateway-fields.js";
import type { ResponseCache } from "./response-cache.js";
import { modelNotFound, routeCall, type RoutedCall, type RoutingState } from "./routing.js";
import type { SharedAnswers } from "./shared-answers.js";
import { StoredPayload } from "./stored-payload.js";
import { timestamp, type UsagePublisher } from "./usage-publisher.js";
import { listModels } from "./model-listing.js";
import { WildcardListing } from "./wildcard-listing.js";

export interface RouterDeps {
  /** The model list and strategy in force; replaced on config reload and runtime model changes. */
  models: LiveModelList;
  /** Where runtime models are kept; absent, the model admin RPCs refuse. */
  store: ModelStore | undefined;
  /** Where POST /credentials keeps credentials; absent, the credential RPCs that change them refuse. */
  credentials?: CredentialStore | undefined;
  /** Cooldowns and load of the deployments, kept across reloads. */
  state: RoutingState;
  publisher: UsagePublisher;
  logger: Logger;
  /** The master key's hash (hashKey): the model admin calls must carry the key; undefined refuses them. */
  masterKeyHash: string | undefined;
  /** Settles a call's reservations at the keys replica holding them (CompleteRequest.reservation_holder). */
  settleReservation: (release: ReleaseRequest) => void;
  /** This replica's response cache (used when litellm_settings.cache is on). */
  cache: ResponseCache;
  /** The answers router replicas share (cache_params.type redis); absent when the bus reaches no other replica. */
  sharedAnswers?: SharedAnswers | undefined;
  /** Tells every router replica to drop these cached answers, or all (this one's too), and drops them from the shared ones. */
  forgetCached: (request: CacheForget) => Promise<void>;
  /** Provider and deployment budgets, for their spend. */
  budgets: RouterBudgets;
  /** The latest background health check round (general_settings.background_health_checks); absent, /health probes at once. */
  health?: BackgroundHealth | undefined;
  /** general_settings.pass_through_endpoints; absent when the config has none. */
  passThrough?: PassThrough | undefined;
  /** OpenAI's Files and Batch APIs; absent, they are refused (they need the router's database). */
  files?: FilesApi | undefined;
}

/** Cached answers to drop: by key, or all of them. */
export interface CacheForget {
  keys: string[];
  all: boolean;
}

function storeOf(deps: RouterDeps): ModelStore {
  if (!deps.store) throw gatewayError("runtime models need the router's database", Code.FailedPrecondition, { type: "invalid_request_error" });
  return deps.store;
}

function credentialStoreOf(deps: RouterDeps): CredentialStore {
  if (!deps.credentials) throw gatewayError("stored credentials need the router's database", Code.FailedPrecondition, { type: "invalid_request_error" });
  return deps.credentials;
}

const decoder = new TextDecoder();

function parseBody(bytes: Uint8Array): OpenAIBody {
  // The edge's parse, when it ran in this process.
  const known = parsedBody(bytes);
  if (known) return known as OpenAIBody;
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

function requestedModel(body: OpenAIBody): string {
  const model = body["model"];
  if (typeof model !== "string" || model === "") {
    throw gatewayError("model is required", Code.InvalidArgument, { type: "invalid_request_error", param: "model" });
  }
  return model;
}

/** What the request may generate at most, as it says; 0 when it does not. */
function maxTokensOf(body: OpenAIBody): number {
  const maxTokens = body["max_tokens"] ?? body["max_completion_tokens"];
  return typeof maxTokens === "number" && maxTokens > 0 ? maxTokens : 0;
}

/** Waits for `done`, or until the caller gives up. */
function untilDoneOrGone(done: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const gone = () => resolve();
    signal.addEventListener("abort", gone, { once: true });
    void done.then(() => {
      signal.removeEventListener("abort", gone);
      resolve();
    });
  });
}

/** What a call used, in dollars and tokens, as far as it got; an answer from the cache costs nothing. */
function usedBy(outcome: Outcome, cacheHit: boolean): { cost: number; totalTokens: number } {
  const { deployment: d, usage } = outcome;
  return { cost: d && usage && !cacheHit ? costFor(d, usage) : 0, totalTokens: (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0) };
}

/** How a call went with the response cache, for its usage event. */
interface CacheResult {
  /** The cache key looked at; "" when the cache was not used. */
  key: string;
  hit: boolean;
}

const NO_TAGS: readonly string[] = [];

// Made once: only its metadata is read, and an error per request costs a stack trace.
const CLIENT_CLOSED = gatewayError("client closed the request", Code.Canceled, { type: "request_cancelled", status: 499 });

export function createRouterService(deps: RouterDeps): ServiceImpl<typeof RouterService> {
  const wildcardListing = new WildcardListing(deps.logger);

  function publishUsage(
    req: CompleteRequest,
    body: OpenAIBody | undefined,
    outcome: Outcome,
    startMs: number,
    error: ConnectError | undefined,
    payload: StoredPayload | undefined,
    cached: CacheResult,
  ) {
    const d = outcome.deployment;
    const usage = outcome.usage;
    const endMs = Date.now();
    const { cost, totalTokens } = usedBy(outcome, cached.hit);
    const requested = typeof body?.["model"] === "string" ? body["model"] : "";
    deps.publisher.publish({
      requestId: req.requestId,
      keyHash: req.keyHash,
      keyAlias: req.keyAlias,
      userId: req.userId,
      teamId: req.teamId,
      // Cut by the edge already; again here for callers that are not the edge.
      endUser: deps.publisher.bookEndUsers ? req.endUser.slice(0, END_USER_MAX_CHARS) : "",
      sessionId: req.sessionId.slice(0, SESSION_ID_MAX_CHARS),
      // Checked by the edge; one past the bound from another caller is not kept.
      spendLogsMetadata: req.spendLogsMetadata.length > SPEND_LOGS_METADATA_MAX_BYTES ? "" : req.spendLogsMetadata,
      // The client's (capped by the edge, again here) and the deployment's.
      requestTags: requestTags(req.requestTags, d?.tags),
      modelGroup: d?.modelGroup ?? requested,
      originalModelGroup: requested,
      attemptedFallbacks: outcome.attemptedFallbacks,
      deploymentId: d?.id ?? "",
      provider: d?.provider ?? "",
      providerModel: d?.providerModel ?? "",
      promptTokens: usage?.promptTokens ?? 0,
      completionTokens: usage?.completionTokens ?? 0,
      totalTokens,
      cacheReadInputTokens: usage?.cachedTokens ?? 0,
      cacheCreationInputTokens: usage?.cacheWriteTokens ?? 0,
      cost,
      startTime: timestamp(startMs),
      endTime: timestamp(endMs),
      latencyMs: endMs - startMs,
      status: error || outcome.failure !== undefined ? UsageStatus.FAILURE : UsageStatus.SUCCESS,
      errorType: error ? (error.metadata.get("x-error-type") ?? Code[error.code]) : (outcome.failure ?? ""),
      httpStatus: error ? Number(error.metadata.get("x-http-status") ?? 500) : 200,
      stream: body?.["stream"] === true,
      usageEstimated: outcome.usageEstimated,
      callType: outcome.callName ?? CALL_HANDLERS.get(req.callType)?.name ?? "",
      cacheHit: cached.hit,
      cacheKey: cached.key,
      ...payload?.fields(body),
    }, { modelGroup: d?.entry.model_name ?? "", apiBase: d?.apiBase ?? "", teamAlias: req.teamAlias, call: outcome });
  }

  // Model admin (the master key's, as at the edge): whoever reaches this port must not add a
  // deployment that sends a provider key where it likes, nor read the model list.
  const admin =
    <I, O>(fn: (req: I) => O) =>
    (req: I, ctx: HandlerContext): O => {
      requireMasterKey(deps.masterKeyHash, ctx);
      return fn(req);
    };

  return {
    complete(req: CompleteRequest, ctx: HandlerContext): AsyncIterable<CallEvent> {
      const startMs = Date.now();
      const outcome: Outcome = { deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined };
      const payload = deps.publisher.storePrompts ? new StoredPayload() : undefined;
      let body: OpenAIBody | undefined;
      const cached: CacheResult = { key: "", hit: false };
      // Set while this call is the one identical requests wait for.
      let lead: (() => void) | undefined;
      const start = async () => {
        if (req.callType === CallType.PASS_THROUGH) {
          if (!deps.passThrough) throw gatewayError("this gateway has no pass-through endpoints", Code.NotFound, { type: "not_found_error" });
          return deps.passThrough.call(req, ctx.signal, outcome);
        }
        if (req.callType === CallType.FILES) {
          if (!deps.files) throw gatewayError("the Files and Batch APIs need the router's database", Code.FailedPrecondition, { type: "invalid_request_error" });
          return deps.files.call(req, deps.models.table().groups, ctx.signal, outcome, startMs);
        }
        const handler = CALL_HANDLERS.get(req.callType);
        if (!handler) throw new ConnectError(`call type ${CallType[req.callType]} is not supported`, Code.Unimplemented);
        // An upload (multipart/form-data) parses to its fields and files; the edge's parse, in one process.
        body = req.contentType === "" ? parseBody(req.body) : ((parsedBody(req.body) ?? (await formFields(req.body, req.contentType))) as OpenAIBody);
        const asked = requestedModel(body);
        // The model group a key's or team's alias renames the body's model to (the keys service's answer).
        const model = req.model === "" ? asked : req.model;
        handler.validate(body);
        const table = deps.models.table();
        const use = table.cache && cacheUse(table.cache, req.callType, body, model, table.groups.settings.tagFiltering ? req.requestTags : NO_TAGS);
        const shared = table.cache?.shared === true ? deps.sharedAnswers : undefined;
        if (use) {
          cached.key = use.key;
          let hit = use.read ? deps.cache.get(use.key, use.maxAgeMs) : undefined;
          // An identical answer on its way is waited for (and, should that call fail, the next one's), unless this is a stream, whose first bytes would wait for the other's last.
          const coalesce = body.stream !== true;
          for (let leader; !hit && use.read && coalesce && !ctx.signal.aborted && (leader = deps.cache.leading(use.key)); ) {
            await untilDoneOrGone(leader, ctx.signal);
            hit = deps.cache.get(use.key, use.maxAgeMs);
          }
          // Identical requests made meanwhile wait for this one, also while it asks the shared answers.
          if (!hit && coalesce && use.write) lead = deps.cache.lead(use.key);
          if (!hit && use.read && shared) {
            hit = await shared.get(use.key, use.maxAgeMs, table.groups);
            if (hit) deps.cache.set(use.key, hit, use.maxEntries);
          }
          if (hit) {
            cached.hit = true;
            const answer = replay(hit, use.key, outcome);
            return payload ? payload.watch(answer) : answer;
          }
        }
        const maxTokens = maxTokensOf(body);
        const answers = answerCount(body["n"], body["best_of"]);
        const call: RoutedCall = {
          requestId: req.requestId,
          table,
          handler,
          body: withoutGatewayFields(body, req.callType),
          headers: req.providerHeaders,
          signal: ctx.signal,
          // About four bytes of body a token, and what the request may generate on top: what usage-based routing reserves against a tpm.
          estimatedTokens: Math.ceil(req.body.length / 4) + maxTokens * Math.max(1, answers),
          promptBytes: req.body.length,
          maxTokens,
          answers,
          tags: req.requestTags,
          // The client's headers (as the edge passes them on) over its body's.
          numRetries: requestRetries(req.numRetries, body["num_retries"]),
          timeoutMs: requestTimeoutMs(req.timeout, body["timeout"]),
          streamTimeoutMs: requestStreamTimeoutMs(req.streamTimeout, body["stream_timeout"]),
          // As the key's aliases renamed them, else as the body names them.
          fallbacks: req.fallbacks.length > 0 ? req.fallbacks : requestFallbacks(body["fallbacks"]),
          mockFailure: body["mock_testing_fallbacks"] === true,
          disableFallbacks: body["disable_fallbacks"] === true,
        };
        let answer = await routeCall(call, model, outcome, deps.state);
        if (use?.write) answer = keptAnswer(answer, use, deps.cache, outcome, Date.now, shared);
        return payload ? payload.watch(answer) : answer;
      };
      const end = (error: ConnectError | undefined) => {
        lead?.();
        // The key's reservations are settled from here too: the caller may
        // never read what the call used. Over the network (split), a caller
        // that gives up cuts the call's events, and one whose client leaves
        // just after this end, before Finished has reached it, drops them,
        // while this side saw no cancel. In one process the caller reads
        // every event, unless it gave up before the answer. Whichever of this
        // and the edge's release comes first settles, with the same usage.
        const unread = ctx.protocolName !== DIRECT_PROTOCOL || error === CLIENT_CLOSED || ctx.signal.aborted;
        if (req.reservationHolder !== "" && unread) {
          const { cost, totalTokens } = usedBy(outcome, cached.hit);
          const release = { requestId: req.requestId, keyHash: req.keyHash, holder: req.reservationHolder, usageUnknown: false, cost, totalTokens: tokensOnWire(totalTokens) };
          deps.settleReservation({ $typeName: "gateway.keys.v1.ReleaseRequest", ...release });
        }
        // A client that walks away mid-stream is recorded as a failure too.
        publishUsage(req, body, outcome, startMs, error, payload, cached);
        // The batches it claimed are in its usage event now, unless it failed before it had its usage.
        if (outcome.claimedBatches) deps.files?.settle(outcome.claimedBatches, outcome.usage !== undefined);
        // Over the network the edge hears only a bug's message; its stack is here.
        if (error && isUnexpected(error) && ctx.protocolName !== DIRECT_PROTOCOL) {
          deps.logger.error({ requestId: req.requestId, err: error.rawMessage, stack: (error.cause instanceof Error ? error.cause : error).stack }, "call failed unexpectedly");
        }
      };
      return new CompleteEvents(start, toConnectError, end, CLIENT_CLOSED);
    },

    listModels: (req) => listModels(deps.models.table().groups, wildcardListing, req),

    addModel: admin((req) => addModel(deps.models, storeOf(deps), req)),

    deleteModel: admin(async (req) => {
      await deleteModel(deps.models, storeOf(deps), req);
      return {};
    }),

    updateModel: admin((req) => updateModel(deps.models, storeOf(deps), req)),

    createCredential: admin(async (req) => {
      await createCredential(deps.models, credentialStoreOf(deps), storeOf(deps), req);
      return {};
    }),

    listCredentials: admin(() => listCredentials(deps.models)),

    getCredential: admin((req) => getCredential(deps.models, req)),

    updateCredential: admin(async (req) => {
      await updateCredential(deps.models, credentialStoreOf(deps), storeOf(deps), req);
      return {};
    }),

    deleteCredential: admin(async (req) => {
      await deleteCredential(deps.models, credentialStoreOf(deps), storeOf(deps), req);
      return {};
    }),

    getModelInfo: admin((req) => getModelInfo(deps.models, req)),

    checkHealth: admin((req) => (deps.health ? deps.health.answer(req) : checkHealth(deps.models, req))),

    getCacheStatus: admin(() => cacheStatus(deps.models.table().cache, deps.cache, deps.sharedAnswers)),

    deleteCachedResponses: admin(async (req) => {
      await deps.forgetCached({ keys: req.keys, all: req.all });
      return {};
    }),

    calculateCost: admin((req) => calculateCost(deps.models.table().groups, req)),

    resolveModel: (req) => {
      const { groups } = deps.models.table();
      const group = groups.resolve(req.model);
      if (!group) throw modelNotFound(req.model, groups);
      return { group: group.name };
    },

    getProviderBudgets: admin(async () => {
      const budgets = [...deps.models.table().groups.providerBudgets.entries()];
      const states = await deps.budgets.state(budgets.map(([, b]) => b));
      return {
        providers: budgets.map(([provider, b], i) => ({
          provider,
          budgetLimit: b.limit,
          timePeriod: b.timePeriod,
          spend: states[i]?.spend ?? 0,
          budgetResetAtMs: BigInt(states[i]?.resetAt ?? 0),
        })),
      };
    }),
  };
}

export const routerRoutes = (impl: ServiceImpl<typeof RouterService>) => (router: ConnectRouter) =>
  router.service(RouterService, impl);
