import { randomUUID } from "node:crypto";
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { Code } from "@connectrpc/connect";
import { gatewayError, routeAllowed, routeRefused } from "@gateway/common";
import { anthropicErrorBody } from "./anthropic-errors.js";
import type { EdgeOptions, RequestContext, RouteHandler } from "./context.js";
import { callerOf, sendJson } from "./http.js";
import { observeRequest } from "./observe.js";
import { errorBody, sendError } from "./openai-errors.js";
import { audioSpeech } from "./routes/audio-speech.js";
import { audioTranscriptions } from "./routes/audio-transcriptions.js";
import { budgetInfoRoute, budgetSettings, deleteBudget, listBudgets, newBudget, updateBudget } from "./routes/budgets.js";
import { cacheDelete, cacheFlushAll, cachePing } from "./routes/cache.js";
import { chatCompletions } from "./routes/chat-completions.js";
import { blockCustomers, customerInfoRoute, deleteCustomers, listCustomers, newCustomer, unblockCustomers, updateCustomer } from "./routes/customers.js";
import { customerDailyActivity, organizationDailyActivity, tagDailyActivity, teamDailyActivity, userDailyActivity } from "./routes/daily-activity.js";
import { embeddings } from "./routes/embeddings.js";
import { globalActivity, globalActivityByModel } from "./routes/global-activity.js";
import { globalSpend, globalSpendKeys, globalSpendModels, globalSpendProvider, globalSpendReport } from "./routes/global-spend.js";
import { allEndUsers, allTagNames, globalSpendEndUsers, globalSpendLogs, globalSpendTags, globalSpendTeams } from "./routes/global-spend-lists.js";
import { liveliness, readiness, testRoute } from "./routes/health.js";
import { imageEdits, imageGenerations } from "./routes/images.js";
import {
  blockKey,
  bulkUpdateKeys,
  deleteKeys,
  generateKey,
  generateServiceAccountKey,
  keyHealth,
  keyInfoRoute,
  keysInfoRoute,
  listKeyAliases,
  listKeys,
  regenerateKey,
  resetKeySpend,
  unblockKey,
  updateKey,
} from "./routes/keys.js";
import { countGeminiTokens, embedContentRoute, GEMINI_COUNT_TOKENS, GEMINI_EMBED, GEMINI_MODEL_CALL, generateContentRoute } from "./routes/generate-content.js";
import { getGeminiModel, listGeminiModels } from "./routes/gemini-models.js";
import { countTokens, messages } from "./routes/messages.js";
import { passThrough } from "./routes/pass-through.js";
import { metricsRoute } from "./routes/metrics.js";
import { credentialByModel, credentialByName, createCredential, deleteCredential, listCredentials, updateCredential } from "./routes/credentials.js";
import { deleteModel, health, modelInfo, newModel, patchModel, updateModel } from "./routes/model-admin.js";
import { listModels, modelGroupInfo, retrieveModel } from "./routes/models.js";
import { files } from "./routes/files.js";
import { moderations } from "./routes/moderations.js";
import {
  addOrganizationMember,
  deleteOrganizationMember,
  deleteOrganizations,
  listOrganizations,
  newOrganization,
  organizationInfoRoute,
  organizationsInfo,
  updateOrganization,
  updateOrganizationMember,
} from "./routes/organizations.js";
import { providerBudgets } from "./routes/provider-budgets.js";
import { rerank } from "./routes/rerank.js";
import { responses } from "./routes/responses.js";
import { calculateSpend } from "./routes/spend-calculate.js";
import { tokenCounter } from "./routes/token-counter.js";
import { spendLogs, spendTags } from "./routes/spend.js";
import { deleteTag, listTags, newTag, tagInfoRoute, updateTag } from "./routes/tags.js";
import {
  addTeamMember,
  addTeamModels,
  blockTeam,
  deleteTeamMember,
  deleteTeamModels,
  deleteTeams,
  listAvailableTeams,
  listTeams,
  listTeamsV2,
  newTeam,
  teamInfoRoute,
  unblockTeam,
  updateTeam,
  updateTeamMember,
} from "./routes/teams.js";
import { textCompletions } from "./routes/text-completions.js";
import { availableRoles, bulkUpdateUsers, deleteUsers, listUsers, newUser, updateUser, userInfoRoute } from "./routes/users.js";

// LiteLLM's customer routes, which it also answers under /end_user/.
const CUSTOMER_ROUTES: [method: string, name: string, route: RouteHandler][] = [
  ["POST", "new", newCustomer],
  ["POST", "update", updateCustomer],
  ["GET", "info", customerInfoRoute],
  ["GET", "list", listCustomers],
  ["POST", "delete", deleteCustomers],
  ["POST", "block", blockCustomers],
  ["POST", "unblock", unblockCustomers],
  ["GET", "daily/activity", customerDailyActivity],
  ["GET", "daily/activity/aggregated", customerDailyActivity],
];

// Every route by "METHOD path"; OpenAI routes answer with and without /v1, as LiteLLM's do.
const ROUTES = new Map<string, RouteHandler>([
  ["POST /v1/chat/completions", chatCompletions],
  ["POST /chat/completions", chatCompletions],
  ["POST /v1/responses", responses],
  ["POST /responses", responses],
  ["POST /v1/completions", textCompletions],
  ["POST /completions", textCompletions],
  ["POST /v1/embeddings", embeddings],
  ["POST /embeddings", embeddings],
  ["POST /v1/images/generations", imageGenerations],
  ["POST /images/generations", imageGenerations],
  ["POST /v1/images/edits", imageEdits],
  ["POST /images/edits", imageEdits],
  ["POST /v1/audio/speech", audioSpeech],
  ["POST /audio/speech", audioSpeech],
  ["POST /v1/audio/transcriptions", audioTranscriptions],
  ["POST /audio/transcriptions", audioTranscriptions],
  ["POST /rerank", rerank],
  ["POST /v1/rerank", rerank],
  ["POST /v2/rerank", rerank],
  ["POST /v1/moderations", moderations],
  ["POST /moderations", moderations],
  ...["/v1", ""].flatMap((v1) => [
    [`POST ${v1}/files`, files],
    [`GET ${v1}/files`, files],
    [`POST ${v1}/batches`, files],
    [`GET ${v1}/batches`, files],
  ] as const),
  ["POST /v1/messages", messages],
  ["POST /v1/messages/count_tokens", countTokens],
  ["POST /utils/token_counter", tokenCounter],
  ["GET /v1/models", listModels],
  ["GET /models", listModels],
  ["GET /v1beta/models", listGeminiModels],
  ["GET /health/liveliness", liveliness],
  ["GET /health/liveness", liveliness],
  ["GET /health/readiness", readiness],
  ["GET /test", testRoute],
  ["GET /routes", listRoutes],
  ["GET /metrics", metricsRoute],
  ["GET /spend/logs", spendLogs],
  ["GET /spend/tags", spendTags],
  ["POST /spend/calculate", calculateSpend],
  ["GET /global/spend", globalSpend],
  ["GET /global/spend/report", globalSpendReport],
  ["GET /global/spend/keys", globalSpendKeys],
  ["GET /global/spend/models", globalSpendModels],
  ["GET /global/spend/provider", globalSpendProvider],
  ["GET /global/spend/logs", globalSpendLogs],
  ["GET /global/spend/teams", globalSpendTeams],
  ["GET /global/spend/tags", globalSpendTags],
  ["GET /global/spend/all_tag_names", allTagNames],
  ["POST /global/spend/end_users", globalSpendEndUsers],
  ["GET /global/all_end_users", allEndUsers],
  ["GET /global/activity", globalActivity],
  ["GET /global/activity/model", globalActivityByModel],
  ["POST /key/generate", generateKey],
  ["POST /key/service-account/generate", generateServiceAccountKey],
  ["POST /key/update", updateKey],
  ["GET /key/info", keyInfoRoute],
  ["POST /v2/key/info", keysInfoRoute],
  ["GET /key/list", listKeys],
  ["GET /key/aliases", listKeyAliases],
  ["POST /key/delete", deleteKeys],
  ["POST /key/regenerate", regenerateKey],
  ["POST /key/bulk_update", bulkUpdateKeys],
  ["POST /key/block", blockKey],
  ["POST /key/unblock", unblockKey],
  ["POST /key/health", keyHealth],
  ["POST /team/new", newTeam],
  ["POST /team/update", updateTeam],
  ["GET /team/info", teamInfoRoute],
  ["GET /team/daily/activity", teamDailyActivity],
  ["GET /team/daily/activity/aggregated", teamDailyActivity],
  ["GET /team/list", listTeams],
  ["GET /v2/team/list", listTeamsV2],
  ["GET /team/available", listAvailableTeams],
  ["POST /team/delete", deleteTeams],
  ["POST /team/block", blockTeam],
  ["POST /team/unblock", unblockTeam],
  ["POST /team/member_add", addTeamMember],
  ["POST /team/member_delete", deleteTeamMember],
  ["POST /team/member_update", updateTeamMember],
  ["POST /team/model/add", addTeamModels],
  ["POST /team/model/delete", deleteTeamModels],
  ["POST /organization/new", newOrganization],
  ["PATCH /organization/update", updateOrganization],
  ["POST /organization/update", updateOrganization],
  ["GET /organization/info", organizationInfoRoute],
  ["POST /organization/info", organizationsInfo],
  ["GET /organization/list", listOrganizations],
  ["DELETE /organization/delete", deleteOrganizations],
  ["POST /organization/delete", deleteOrganizations],
  ["POST /organization/member_add", addOrganizationMember],
  ["PATCH /organization/member_update", updateOrganizationMember],
  ["POST /organization/member_update", updateOrganizationMember],
  ["DELETE /organization/member_delete", deleteOrganizationMember],
  ["POST /organization/member_delete", deleteOrganizationMember],
  ["GET /organization/daily/activity", organizationDailyActivity],
  ["GET /organization/daily/activity/aggregated", organizationDailyActivity],
  ["POST /user/new", newUser],
  ["POST /user/update", updateUser],
  ["POST /user/bulk_update", bulkUpdateUsers],
  ["GET /user/info", userInfoRoute],
  ["GET /user/daily/activity", userDailyActivity],
  ["GET /user/daily/activity/aggregated", userDailyActivity],
  ["GET /user/available_roles", availableRoles],
  ["GET /user/list", listUsers],
  ["POST /user/delete", deleteUsers],
  ...CUSTOMER_ROUTES.flatMap(([method, name, route]) => ["customer", "end_user"].map((prefix) => [`${method} /${prefix}/${name}`, route] as const)),
  ["POST /model/new", newModel],
  ["POST /model/update", updateModel],
  ["POST /model/delete", deleteModel],
  ["GET /model/info", modelInfo],
  ["GET /v1/model/info", modelInfo],
  ["GET /model_group/info", modelGroupInfo],
  ["POST /credentials", createCredential],
  ["GET /credentials", listCredentials],
  ["GET /health", health],
  ["POST /tag/new", newTag],
  ["POST /tag/update", updateTag],
  ["POST /tag/info", tagInfoRoute],
  ["GET /tag/list", listTags],
  ["GET /tag/daily/activity", tagDailyActivity],
  ["GET /tag/daily/activity/aggregated", tagDailyActivity],
  ["POST /tag/delete", deleteTag],
  ["GET /provider/budgets", providerBudgets],
  ["POST /budget/new", newBudget],
  ["POST /budget/update", updateBudget],
  ["POST /budget/info", budgetInfoRoute],
  ["GET /budget/list", listBudgets],
  ["GET /budget/settings", budgetSettings],
  ["POST /budget/delete", deleteBudget],
  ["GET /cache/ping", cachePing],
  ["POST /cache/delete", cacheDelete],
  ["POST /cache/flushall", cacheFlushAll],
]);

// Routes with a parameter in the path, and how metrics and traces name them.
// A model's name may hold "/" ("openai/gpt-4o").
const PATH_ROUTES = [
  { method: "POST", path: /^\/key\/[^/]+\/regenerate$/, handler: regenerateKey, label: "/key/{key}/regenerate" },
  { method: "POST", path: /^\/key\/[^/]+\/reset_spend$/, handler: resetKeySpend, label: "/key/{key}/reset_spend" },
  { method: "PATCH", path: /^\/model\/[^/]+\/update$/, handler: patchModel, label: "/model/{model_id}/update" },
  // A credential's name may hold "/", as LiteLLM's path parameter does.
  { method: "GET", path: /^\/credentials\/by_name\/./, handler: credentialByName, label: "/credentials/by_name/{credential_name}" },
  { method: "GET", path: /^\/credentials\/by_model\/[^/]+$/, handler: credentialByModel, label: "/credentials/by_model/{model_id}" },
  { method: "PATCH", path: /^\/credentials\/./, handler: updateCredential, label: "/credentials/{credential_name}" },
  { method: "DELETE", path: /^\/credentials\/./, handler: deleteCredential, label: "/credentials/{credential_name}" },
  { method: "GET", path: /^\/v1\/models\/./, handler: retrieveModel, label: "/v1/models/{model}" },
  { method: "GET", path: /^\/models\/./, handler: retrieveModel, label: "/models/{model}" },
  { method: "GET", path: /^(\/v1)?\/files\/[^/]+$/, handler: files, label: "/v1/files/{file_id}" },
  { method: "DELETE", path: /^(\/v1)?\/files\/[^/]+$/, handler: files, label: "/v1/files/{file_id}" },
  { method: "GET", path: /^(\/v1)?\/files\/[^/]+\/content$/, handler: files, label: "/v1/files/{file_id}/content" },
  { method: "GET", path: /^(\/v1)?\/batches\/[^/]+$/, handler: files, label: "/v1/batches/{batch_id}" },
  { method: "POST", path: /^(\/v1)?\/batches\/[^/]+\/cancel$/, handler: files, label: "/v1/batches/{batch_id}/cancel" },
  { method: "POST", path: GEMINI_MODEL_CALL, handler: generateContentRoute, label: "/v1beta/models/{model}:generateContent" },
  { method: "GET", path: /^\/v1beta\/models\/./, handler: getGeminiModel, label: "/v1beta/models/{model}" },
  { method: "POST", path: GEMINI_COUNT_TOKENS, handler: countGeminiTokens, label: "/v1beta/models/{model}:countTokens" },
  { method: "POST", path: GEMINI_EMBED, handler: embedContentRoute, label: "/v1beta/models/{model}:embedContent" },
];

let routeList: string | undefined;

/** GET /routes (no key needed, as LiteLLM's): every route this edge serves, with its methods. */
async function listRoutes(ctx: RequestContext): Promise<void> {
  routeList ??= JSON.stringify({
    routes: [
      ...groupedRoutes([...ROUTES].map(([route, handler]) => ({ route, handler }))),
      ...groupedRoutes(PATH_ROUTES.map((r) => ({ route: `${r.method} ${r.label}`, handler: r.handler }))),
    ],
  });
  sendJson(ctx.res, 200, routeList);
}

/** "METHOD path" routes as LiteLLM lists them: one entry a path, with every method it answers. */
function groupedRoutes(routes: { route: string; handler: RouteHandler }[]) {
  const byPath = new Map<string, { path: string; methods: string[]; name: string; endpoint: string }>();
  for (const { route, handler } of routes) {
    const [method, path] = route.split(" ") as [string, string];
    const entry = byPath.get(path);
    if (!entry) byPath.set(path, { path, methods: [method], name: handler.name, endpoint: handler.name });
    else if (!entry.methods.includes(method)) entry.methods.push(method);
  }
  return [...byPath.values()];
}

function pathRoute(method: string | undefined, path: string) {
  return PATH_ROUTES.find((r) => r.method === method && r.path.test(path));
}

// Routes that check the key's allowed_routes themselves (a model call's
// answer carries them) or take no key: every other route asks first.
const OWN_ROUTE_CHECK = new Set<RouteHandler>([
  chatCompletions,
  responses,
  textCompletions,
  embeddings,
  imageGenerations,
  imageEdits,
  audioSpeech,
  audioTranscriptions,
  rerank,
  moderations,
  files,
  messages,
  generateContentRoute,
  embedContentRoute,
  liveliness,
  readiness,
  testRoute,
  listRoutes,
  metricsRoute,
]);

/**
 * Refuses a key whose allowed_routes leave this route out, before the route
 * does anything; a key the keys service refuses outright gets the route's
 * own answer.
 */
async function checkRoute(ctx: RequestContext): Promise<void> {
  const caller = await callerOf(ctx).catch(() => undefined);
  if (caller && !routeAllowed(caller.allowedRoutes, ctx.path)) throw routeRefused(ctx.path, caller.allowedRoutes);
}

function routeFor(method: string | undefined, path: string): RouteHandler | undefined {
  return ROUTES.get(`${method} ${path}`) ?? pathRoute(method, path)?.handler;
}

/** A request's path as metrics and traces name it: a few fixed names, whatever the client sends. */
function routeLabel(method: string | undefined, path: string): string {
  return ROUTES.has(`${method} ${path}`) ? path : (pathRoute(method, path)?.label ?? "unmatched");
}

export interface EdgeServer {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  /**
   * Stops accepting connections and lets requests in flight, streams
   * included, finish for up to `graceMs`; then cuts what is left, so a
   * stream still running ends without [DONE].
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 25_000;

/** `tls` (key and certificate) makes the edge serve HTTPS itself, for setups without a reverse proxy. */
export function createEdgeServer(options: EdgeOptions, tls?: Pick<TlsServerOptions, "key" | "cert">): EdgeServer {
  const serverOptions = { keepAliveTimeout: 65_000 };
  const server: Server = (tls ? createTlsServer({ ...serverOptions, ...tls }, handle) : createServer(serverOptions, handle)) as Server;
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req.url);
    const ctx: RequestContext = { req, res, path, requestId: randomUUID(), options };
    // OpenAI's name for a request's id, which its SDKs show as `_request_id` and an error's `requestID`:
    // the id the ledger books the call under (also x-litellm-call-id), on every answer, errors included.
    res.setHeader("x-request-id", ctx.requestId);
    // A pass-through endpoint's path is the config's, whatever route of ours it names.
    const passThroughTo = options.passThrough?.match(path)?.endpoint;
    const handler = passThroughTo ? undefined : routeFor(req.method, path);
    observeRequest(ctx, passThroughTo?.path ?? routeLabel(req.method, path), async () => {
      options.allowedIps?.check(req, path);
      if (passThroughTo) return passThrough(ctx, passThroughTo);
      if (!handler) {
        // Anthropic's clients read Anthropic's error shape on its paths, whatever the method.
        if (path.startsWith(ANTHROPIC_PATH)) return sendError(res, notFound(req.method, path), { "x-litellm-call-id": ctx.requestId }, anthropicErrorBody);
        throw notFound(req.method, path);
      }
      if (!OWN_ROUTE_CHECK.has(handler)) await checkRoute(ctx);
      await handler(ctx);
    });
  }
  server.on("clientError", answerClientError);
  let closing: Promise<void> | undefined;
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      }),
    close: (graceMs = DEFAULT_GRACE_MS) =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        // A request that still arrives on an open connection is served, and
        // its connection closed after it; busy connections close once idle.
        server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
          res.shouldKeepAlive = false;
        });
        server.keepAliveTimeout = 1;
        server.closeIdleConnections();
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        deadline.unref();
      })),
  };
}

// A path of plain segments, as every route's is; anything else (dot segments,
// escapes, backslashes, an absolute-form target) goes through the URL parser.
const PLAIN_PATH = /^(\/[\w.-]*)+$/;

/** The request target's path, as the URL parser gives it, without parsing the common case. */
function pathOf(target = "/"): string {
  const query = target.indexOf("?");
  const path = query === -1 ? target : target.slice(0, query);
  return PLAIN_PATH.test(path) && !path.includes("/.") ? path : new URL(target, "http://edge").pathname;
}

// Refusals of Node's HTTP parser, by its error code; any other is a malformed request.
const CLIENT_ERRORS: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: "request headers are too large" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: "the request did not arrive in time" },
};

type ClientError = Error & { code?: string; reason?: unknown; rawPacket?: unknown };

/**
 * Whether the refused request was to Anthropic's API, whose clients read
 * errors in its shape. Node hands over the bytes it was parsing: the request
 * line is there when they begin with it, as they do for a request whose head
 * was written at once (the SDKs'); otherwise it is not known.
 */
function toAnthropic(err: ClientError): boolean {
  if (!Buffer.isBuffer(err.rawPacket)) return false;
  const target = /^[A-Z]+ (\S+) HTTP\//.exec(err.rawPacket.subarray(0, 8192).toString("latin1"))?.[1];
  if (target === undefined) return false;
  try {
    return pathOf(target).startsWith(ANTHROPIC_PATH);
  } catch {
    return false;
  }
}

/**
 * Answers a request Node's parser refused (no request or response object
 * exists for it) with an OpenAI-style error (Anthropic's, to its API), where
 * Node would send the status alone, and closes the connection. A response
 * already under way on the connection (Node keeps it as _httpMessage, and its
 * own handler checks the same) cannot take another in its middle: then the
 * connection is only cut.
 */
function answerClientError(err: ClientError, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const known = CLIENT_ERRORS[err.code ?? ""];
    const status = known?.status ?? 400;
    const message = known?.message ?? `malformed HTTP request${typeof err.reason === "string" ? `: ${err.reason}` : ""}`;
    const details = { status, type: "invalid_request_error", message, code: null, param: null };
    const body = toAnthropic(err) ? anthropicErrorBody(details) : errorBody(details);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

const ANTHROPIC_PATH = "/v1/messages";

function notFound(method: string | undefined, path: string): Error {
  return gatewayError(`no route for ${method} ${path}`, Code.NotFound, { type: "invalid_request_error" });
}
