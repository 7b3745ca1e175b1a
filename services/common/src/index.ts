export * from "./bus/index.js";
export {
  ALLOWED_FAILS_POLICY_ERRORS,
  asksLiteLLMMetrics,
  CALL_DEFAULT_SETTINGS,
  ConfigError,
  groupAliases,
  ignoredSettings,
  unsetSettings,
  includedFiles,
  loadConfig,
  MAX_LIMIT_COUNT,
  parseConfig,
  credentialsOf,
  credentialValues,
  parseModelEntry,
  withCredential,
  RETRY_POLICY_ERRORS,
  ROUTING_STRATEGIES,
  type Credentials,
  type GatewayConfig,
  type GroupAlias,
  type ModelEntry,
  type PassThroughEndpointConfig,
} from "./config.js";
export { ALL_PROXY_MODELS, EVERY_MODEL } from "./every-model.js";
export { WildcardName } from "./wildcard-name.js";
export { serveConnect, connectTransport, type ConnectServer, type ServeOptions } from "./connect.js";
export { INTERNAL_CREDENTIAL_HEADER, InternalCredential } from "./internal-credential.js";
export { databaseUnreachable, driverMessage, openDatabase, pgErrorCode, rowsOf, type Database, type DatabaseOptions, type Db } from "./database.js";
export { DatabaseProbe } from "./database-probe.js";
export { FailureRun } from "./failure-run.js";
export { readinessAnswer } from "./readiness.js";
export { openPglite } from "./pglite.js";
export { DIRECT_PROTOCOL, directClient } from "./direct-client.js";
export { transportClient } from "./transport-client.js";
export { describeError, gatewayError, isUnexpected, serviceError, type ErrorDetails, type GatewayErrorInit } from "./errors.js";
export { addDuration, parseDuration, periodAt, type Duration } from "./duration.js";
export { hashKey, keyOfAuthorization, sameKeyHash } from "./key-hash.js";
export { requireMasterKey } from "./master-key-call.js";
export { createLogger, redactInLogs, type Logger } from "./logger.js";
export { KEYS_DELETED_SUBJECT, metrics, metricsRegistry, sendMetrics, type ConsumerLag, type RequestOutcome } from "./metrics.js";
export type { BudgetState, DeploymentLabels, DeploymentState, LiteLLMRequest } from "./litellm-metrics.js";
export { startTracing, traceClientCall, traceHttpRequest, tracingEnabled, otlpConfigured, type TracingOptions } from "./tracing.js";
export { answerCount, DEFAULT_OUTPUT_CAP, deploymentCostBound, listCostBound, maxCostWithin, sameBound, widenBound, type CostBound } from "./cost-bound.js";
export { characterPrice, dearestImagePrice, imagePrice, imageTokenCost, listPrice, transcriptionCost, type TranscriptionUsage } from "./price-list.js";
export { costOf, deploymentPrice, IMAGE_OUTPUT_TOKENS, listedModel, ownUnitPrice, pricedModel, setsOwnPrice, LONG_CONTEXT_TOKENS, providerPrice, unpricedModels, type Price, type PriceOverride, type PriceRates, type UnitPriceField, type Usage } from "./pricing.js";
export { flatCodec, type FlatCodec } from "./flat-codec.js";
export { END_USER_MAX_CHARS } from "./end-user.js";
export { SESSION_ID_MAX_CHARS, SPEND_LOGS_METADATA_MAX_BYTES } from "./client-limits.js";
export {
  MOST_REQUEST_FALLBACKS,
  MOST_REQUEST_RETRIES,
  NUM_RETRIES_HEADER,
  requestFallbacks,
  requestRetries,
  requestStreamTimeoutMs,
  requestTimeoutMs,
  STREAM_TIMEOUT_HEADER,
  TIMEOUT_HEADER,
  timeoutMs,
} from "./call-overrides.js";
export { REQUEST_TAG_MAX_CHARS, REQUEST_TAGS_MAX, requestTags, tagList } from "./request-tags.js";
export { usageEventCodec } from "./usage-event-codec.js";
export { LightAbortController } from "./light-abort-controller.js";
export { useLeanAsyncResourceBind } from "./lean-async-bind.js";
export { drained } from "./drained.js";
export { formFields } from "./form-body.js";
export { filesCall, FILES_CALL_NAMES, type FilesCall, type FilesOperation } from "./files-routes.js";
export { parsedBody, rememberParsedBody } from "./parsed-bodies.js";
export { Allowances, NANO, newOp, Pool, type AllowanceLedger, type AllowanceOp } from "./allowances.js";
export { appliedOp, firstApplying, forgettingOps, markApplied } from "./allowance-ops.js";
export { BudgetSpend, type SpendLedger } from "./budget-spend.js";
export { firstMaking, type SpendWrite } from "./spend-write.js";
export { takeTogether, type TakeTogether, type Taking, type TakingLease } from "./take-together.js";
export { withFields } from "./with-fields.js";
export { entryList, entryMap, entryObject, objectEntries, type Entry } from "./entries.js";
export { estimateTokens, messagesText, tokensForChars, tokensOnWire } from "./tokens.js";
export { checkMessageList } from "./message-list.js";
export { validateMessagesBody } from "./messages-body.js";
export { checkJsonDepth, checkStorable, clientJson, storableText } from "./client-json.js";
export { administers, readsAll, readsOwnSpend, USER_ROLES, type UserRole } from "./user-roles.js";
export { isRouteSpec, routeAllowed, routeRefused, ROUTE_GROUP_NAMES } from "./allowed-routes.js";
export { gatewaySecret, ObjectIds, ownerOf, type ObjectKind, type ObjectRef, type SealedRef } from "./object-ids.js";
export { checkPassThroughMethod, PassThroughRoutes, passThroughTimeoutMs, type PassThroughMatch } from "./pass-through-routes.js";
