import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { redactInLogs } from "./logger.js";
import { USER_ROLES } from "./user-roles.js";

// LiteLLM's config.yaml, with LiteLLM's names. Unknown settings are kept
// (looseObject) so a LiteLLM config with options we do not implement still
// loads; what we do read is validated.

const secret = z.string().min(1);

// LiteLLM's duration strings: "1mo", "2w", "7d", "24h", "60m", "3600s".
const duration = z.string().regex(/^[1-9][0-9]*(mo|[wdhms])$/, 'expected a duration such as "1mo", "2w", "7d", "24h", "60m" or "3600s"');

// A deployment's own prices, US dollars per token or per unit
// (PriceOverride): LiteLLM reads them from litellm_params and model_info alike.
const price = z.number().nonnegative().optional();
const prices = {
  input_cost_per_token: price,
  output_cost_per_token: price,
  cache_read_input_token_cost: price,
  cache_creation_input_token_cost: price,
  cache_creation_input_token_cost_above_1hr: price,
  input_cost_per_token_above_200k_tokens: price,
  output_cost_per_token_above_200k_tokens: price,
  cache_read_input_token_cost_above_200k_tokens: price,
  cache_creation_input_token_cost_above_200k_tokens: price,
  // Models priced by other units: images, characters read aloud, seconds heard.
  output_cost_per_image: price,
  input_cost_per_character: price,
  input_cost_per_second: price,
};

// Prices of a request run in a batch (OpenAI's Batch API), per token;
// unset, batches cost the deployment's own prices, halved at openai/ and
// azure/ (their published batch discount).
const batchPrices = {
  input_cost_per_token_batches: price,
  output_cost_per_token_batches: price,
};

/** The names of those prices, for what passes a model list on. */
export const PRICE_SETTINGS = Object.keys(prices) as (keyof typeof prices)[];

// A deployment's call parameters: LiteLLM passes litellm_params into every
// call to the deployment, under what the request sets itself. OpenAI's names;
// each call type takes those it has (services/router/src/call-defaults.ts).
const callDefaults = {
  temperature: z.number().min(0).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().positive().optional(),
  n: z.number().int().positive().optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  presence_penalty: z.number().optional(),
  frequency_penalty: z.number().optional(),
  logit_bias: z.record(z.string(), z.number()).optional(),
  seed: z.number().int().optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
  reasoning_effort: z.string().min(1).optional(),
  user: z.string().optional(),
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().nonnegative().optional(),
  parallel_tool_calls: z.boolean().optional(),
  dimensions: z.number().int().positive().optional(),
  encoding_format: z.enum(["float", "base64"]).optional(),
};

/** The names of those parameters. */
export const CALL_DEFAULT_SETTINGS = Object.keys(callDefaults) as (keyof typeof callDefaults)[];

// AWS Bedrock's settings, LiteLLM's names.
const awsParams = {
  /** A profile of the AWS shared files (~/.aws/credentials, ~/.aws/config), read at load. */
  aws_profile_name: z.string().min(1).optional(),
  aws_access_key_id: secret.optional(),
  aws_secret_access_key: secret.optional(),
  aws_session_token: secret.optional(),
  aws_region_name: z.string().min(1).optional(),
  /** Bedrock Runtime's address, a VPC endpoint say; api_base wins over it. */
  aws_bedrock_runtime_endpoint: z.string().url().optional(),
  /** A role to assume through STS (its ARN), with the keys above or a web identity token. */
  aws_role_name: z.string().min(1).optional(),
  aws_session_name: z.string().min(1).optional(),
  aws_web_identity_token: secret.optional(),
  aws_external_id: z.string().min(1).optional(),
  aws_sts_endpoint: z.string().url().optional(),
};

// Google Vertex AI's settings, LiteLLM's names.
const vertexParams = {
  vertex_project: z.string().min(1).optional(),
  vertex_location: z.string().min(1).optional(),
  /** The same, as LiteLLM also spells them. */
  vertex_ai_project: z.string().min(1).optional(),
  vertex_ai_location: z.string().min(1).optional(),
  /** A service account key file's path, or its JSON text. */
  vertex_credentials: secret.optional(),
};

const litellmParams = z.looseObject({
  model: z.string().min(1),
  /** A credential_list entry whose values fill in what these params leave unset. */
  litellm_credential_name: z.string().min(1).optional(),
  /** Tags every request this deployment answers is booked with (the ledger's request_tags). */
  tags: z.array(z.string()).optional(),
  api_key: secret.optional(),
  api_base: z.url({ protocol: /^https?$/, error: "api_base must be an http:// or https:// URL" }).optional(),
  api_version: z.string().optional(),
  timeout: z.number().positive().optional(),
  stream_timeout: z.number().positive().optional(),
  rpm: z.number().int().nonnegative().optional(),
  tpm: z.number().int().nonnegative().optional(),
  /** Calls this deployment takes at once, per router replica; past it, requests go to other deployments. */
  max_parallel_requests: z.number().int().positive().optional(),
  weight: z.number().nonnegative().optional(),
  order: z.number().int().optional(),
  drop_params: z.boolean().optional(),
  mock_response: z.string().optional(),
  /** Dollars this deployment may cost per budget_duration (all router replicas together); past it, requests go to other deployments. */
  max_budget: z.number().nonnegative().optional(),
  budget_duration: duration.optional(),
  /** Headers sent with every call to the deployment (a gateway's own credential, say); their values are kept out of logs. */
  extra_headers: z.record(z.string().min(1), z.string()).optional(),
  /** OpenAI's organization, sent as OpenAI-Organization. */
  organization: z.string().min(1).optional(),
  /** Fields set into every request body sent to the deployment, as the provider names them. */
  extra_body: z.record(z.string(), z.unknown()).optional(),
  ...awsParams,
  ...vertexParams,
  ...callDefaults,
  ...prices,
  ...batchPrices,
});

// LiteLLM's RetryPolicy and AllowedFailsPolicy: a count per exception
// class. A name outside them (a typo, a class they do not know) stops the
// start rather than being left without effect.
export const RETRY_POLICY_ERRORS = ["BadRequestError", "AuthenticationError", "TimeoutError", "RateLimitError", "ContentPolicyViolationError", "InternalServerError"] as const;
export const ALLOWED_FAILS_POLICY_ERRORS = [...RETRY_POLICY_ERRORS, "NotFoundError", "ServiceUnavailableError", "BadGatewayError"] as const;
const countPer = (errors: readonly string[], suffix: string) =>
  z.strictObject(Object.fromEntries(errors.map((error) => [`${error}${suffix}`, z.number().int().nonnegative().optional()])));
const retryPolicy = countPer(RETRY_POLICY_ERRORS, "Retries");
const allowedFailsPolicy = countPer(ALLOWED_FAILS_POLICY_ERRORS, "AllowedFails");

const modelInfo = z.looseObject({
  id: z.string().min(1).optional(),
  ...prices,
  ...batchPrices,
  max_tokens: z.number().int().positive().optional(),
  max_output_tokens: z.number().int().positive().optional(),
  mode: z.string().optional(),
  /** The model this deployment is priced as, e.g. "azure/gpt-4o" for an Azure deployment named otherwise. */
  base_model: z.string().min(1).optional(),
  /** LiteLLM's model access groups: names a key's or team's models may give for every model group listing them. */
  access_groups: z.array(z.string().min(1)).optional(),
  /** This deployment's own allowed_fails_policy, in place of router_settings'. */
  allowed_fails_policy: allowedFailsPolicy.optional(),
});

const modelEntry = z.looseObject({
  // Long enough for any model's name; a longer one would only swell every "Invalid model name" error that lists them.
  model_name: z.string().min(1).max(256),
  litellm_params: litellmParams,
  model_info: modelInfo.optional(),
});

// [{ "smart-model": ["fast-model"] }], LiteLLM's fallback list form.
const fallbackList = z.array(z.record(z.string(), z.array(z.string())));

// Retry, cooldown and fallback settings: LiteLLM reads them from
// litellm_settings and router_settings alike (router_settings wins).
const reliabilitySettings = {
  /** Retries per kind of failure, in place of num_retries for that kind. */
  retry_policy: retryPolicy.optional(),
  /** A model group's own retry_policy, in place of the one above. */
  model_group_retry_policy: z.record(z.string().min(1), retryPolicy).optional(),
  /** Failures a minute per kind of failure, in place of allowed_fails for that kind. */
  allowed_fails_policy: allowedFailsPolicy.optional(),
  disable_cooldowns: z.boolean().optional(),
  num_retries: z.number().int().nonnegative().optional(),
  /** Seconds: the least a retry waits. */
  retry_after: z.number().nonnegative().optional(),
  allowed_fails: z.number().int().nonnegative().optional(),
  /** Seconds a deployment sits out after too many failures. */
  cooldown_time: z.number().nonnegative().optional(),
  fallbacks: fallbackList.optional(),
  context_window_fallbacks: fallbackList.optional(),
  content_policy_fallbacks: fallbackList.optional(),
  default_fallbacks: z.array(z.string().min(1)).optional(),
  max_fallbacks: z.number().int().nonnegative().optional(),
};

export const ROUTING_STRATEGIES = [
  "simple-shuffle",
  "least-busy",
  "latency-based-routing",
  "usage-based-routing",
  "usage-based-routing-v2",
  "cost-based-routing",
] as const;

// { "gpt-4": "gpt-4o" } or { "gpt-4": { model: "gpt-4o", hidden: true } }.
const modelGroupAlias = z.record(
  z.string().min(1),
  z.union([z.string().min(1), z.looseObject({ model: z.string().min(1), hidden: z.boolean().optional() })]),
);

// litellm_settings.cache_params: the response cache, which the gateway keeps in each router
// replica's memory, and with type redis shares between replicas through NATS JetStream
// (router/src/config/cache-settings.ts).
const cacheParams = z.looseObject({
  type: z.string().min(1).optional(),
  /** Seconds an answer stays cached. */
  ttl: z.number().positive().optional(),
  default_in_memory_ttl: z.number().positive().optional(),
  namespace: z.string().min(1).optional(),
  /** LiteLLM's call type names ("acompletion", "aembedding", …); [] caches nothing. */
  supported_call_types: z.array(z.string().min(1)).optional(),
  mode: z.enum(["default_on", "default_off"]).optional(),
  /** Answers kept per replica, at most. */
  max_size_in_memory: z.number().int().positive().optional(),
});

/**
 * The most a rate limit of a key, team, user, tag or end user (rpm, tpm,
 * parallel requests) may be, whether a management route or this config
 * sets it: the keys service keeps them as Postgres integers (a bigger one
 * failed every /key/generate and /user/new it applied to), and the bound
 * keeps them well inside the uint32 fields of the services' messages.
 */
export const MAX_LIMIT_COUNT = 2_147_483_647;
const limitCount = z.number().int().nonnegative().max(MAX_LIMIT_COUNT).nullish();

// A key's limits, as litellm_settings' default_key_generate_params and
// upperbound_key_generate_params give them (a blank value is null: none).
const keyLimits = {
  max_budget: z.number().nonnegative().nullish(),
  budget_duration: duration.nullish(),
  duration: duration.nullish(),
  max_parallel_requests: limitCount,
  tpm_limit: limitCount,
  rpm_limit: limitCount,
};

const requiredParams = z.array(z.string().min(1)).optional();

// litellm_settings.key_generation_settings: who may make keys (team keys, personal keys), and what they must give.
const keyGenerationSettings = z.looseObject({
  team_key_generation: z.looseObject({ allowed_team_member_roles: z.array(z.enum(["admin", "user"])).optional(), required_params: requiredParams }).optional(),
  personal_key_generation: z.looseObject({ allowed_user_roles: z.array(z.enum(USER_ROLES)).optional(), required_params: requiredParams }).optional(),
});

const callbackList = z.union([z.string(), z.array(z.string())]).optional();

/** What /key/generate gives a key for what its request leaves out. */
const defaultKeyParams = z.looseObject({ ...keyLimits, models: z.array(z.string().min(1)).nullish(), metadata: z.record(z.string(), z.unknown()).nullish() });
/** The most any key made or changed may have of each limit; a key made without one gets the bound. */
const upperboundKeyParams = z.looseObject(keyLimits);

const litellmSettings = z.looseObject({
  default_key_generate_params: defaultKeyParams.optional(),
  upperbound_key_generate_params: upperboundKeyParams.optional(),
  key_generation_settings: keyGenerationSettings.optional(),
  /** What /user/new gives a user (of any role but proxy_admin) for what its request leaves out. */
  default_internal_user_params: z
    .looseObject({
      user_role: z.enum(USER_ROLES).optional(),
      max_budget: z.number().nonnegative().nullish(),
      budget_duration: duration.nullish(),
      models: z.array(z.string().min(1)).nullish(),
      max_parallel_requests: limitCount,
      tpm_limit: limitCount,
      rpm_limit: limitCount,
      /** Teams any user may join by itself, as a member (/team/available, /team/member_add). */
      available_teams: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  /** An internal_user made without a max_budget (budget_duration) gets this one. */
  max_internal_user_budget: z.number().nonnegative().optional(),
  internal_user_budget_duration: duration.optional(),
  /** A budget's id (/budget/new): every end user without limits of its own is held to it. */
  max_end_user_budget_id: z.string().min(1).optional(),
  /** Dollars every end user without limits of its own may spend, for good (when max_end_user_budget_id names no budget). */
  max_end_user_budget: z.number().nonnegative().optional(),
  /** Dollars every model call together may cost per budget_duration (the gateway's own budget, over all keys). */
  max_budget: z.number().nonnegative().optional(),
  budget_duration: duration.optional(),
  drop_params: z.boolean().optional(),
  /** Answer a request the same as an earlier identical one from the response cache. */
  cache: z.boolean().optional(),
  cache_params: cacheParams.optional(),
  /** List a wildcard group in /v1/models as the models its deployments' providers list (their GET /models), not as its pattern. */
  check_provider_endpoint: z.boolean().optional(),
  /** Change requests Anthropic's format refuses (tool calls in a history without tools, the assistant first) so they are taken. */
  modify_params: z.boolean().optional(),
  request_timeout: z.number().positive().optional(),
  require_auth_for_metrics_endpoint: z.boolean().optional(),
  /** Book no end user in the ledger (its limits and budgets still hold). */
  disable_end_user_cost_tracking: z.boolean().optional(),
  /** LiteLLM's logging callbacks: "prometheus" serves LiteLLM's metrics at /metrics; others are not run (a start names them). */
  callbacks: callbackList,
  success_callback: callbackList,
  failure_callback: callbackList,
  /** LiteLLM's metrics label series by end user too. */
  enable_end_user_cost_tracking_prometheus_only: z.boolean().optional(),
  /** Names requests may use for a model group, for every key: checked, priced, called and booked as that group. */
  model_alias_map: z.record(z.string().min(1), z.string().min(1)).optional(),
  ...reliabilitySettings,
});

/** An IP address, or a CIDR range such as 10.0.0.0/8 or fd7a:115c:a1e0::/48. */
function isAddressOrRange(entry: string): boolean {
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/** A pass-through endpoint (LiteLLM's general_settings.pass_through_endpoints entry). */
const passThroughEndpoint = z.strictObject({
  /** The gateway's route, e.g. "/cohere/rerank". */
  path: z.string().regex(/^\/[^?#\s]*$/, "expected a path such as /cohere/rerank"),
  /** Where its requests go, e.g. "https://api.cohere.com/v1/rerank". */
  target: z.url({ protocol: /^https?$/ }),
  /** Headers every request to the target carries; "os.environ/NAME" (alone or after a word, "Bearer os.environ/NAME") is that variable. */
  headers: z.record(z.string(), z.string()).default({}),
  /** Requests to paths under `path` go to the same paths under `target`. */
  include_subpath: z.boolean().default(false),
  /** The client's own headers go to the target too (never its key, nor hop-by-hop ones). */
  forward_headers: z.boolean().default(false),
  /** A gateway key is required (ours by default; LiteLLM's only with auth: true). */
  auth: z.boolean().default(true),
  /** Dollars each request costs: booked in the ledger and held against budgets. */
  cost_per_request: z.number().nonnegative().default(0),
  /** The methods the endpoint takes; unset: all. */
  methods: z.array(z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"])).nonempty().optional(),
  /** Seconds a request to the target may take (default 600). */
  timeout: z.number().positive().optional(),
});

export type PassThroughEndpointConfig = z.infer<typeof passThroughEndpoint>;

const generalSettings = z.looseObject({
  master_key: secret.optional(),
  /** Postgres, as LiteLLM reads it: wins over DATABASE_URL. */
  database_url: secret.optional(),
  /** Always on here: models added with POST /model/new are stored in Postgres. */
  store_model_in_db: z.boolean().optional(),
  max_request_size_mb: z.number().positive().optional(),
  /** Model calls in flight at once over every key and replica. */
  global_max_parallel_requests: z.number().int().nonnegative().optional(),
  /** A deployment's max_parallel_requests when its litellm_params set none. */
  max_parallel_requests: z.number().int().positive().optional(),
  /** Probe every deployment in the background; GET /health answers the latest round. */
  background_health_checks: z.boolean().optional(),
  /** Seconds between background health check rounds (default 300). */
  health_check_interval: z.number().positive().optional(),
  /** The client addresses and CIDR ranges the edge serves (all, when unset). */
  allowed_ips: z.array(z.string().refine(isAddressOrRange, "expected an IP address or a CIDR range such as 10.0.0.0/8")).optional(),
  /** The client is the last address of X-Forwarded-For (the one a proxy in front wrote), for allowed_ips. */
  use_x_forwarded_for: z.boolean().optional(),
  /** Connections in each process's Postgres pool (0: the default, 10). */
  database_connection_pool_limit: z.number().int().nonnegative().optional(),
  /** Seconds to wait for a new Postgres connection before giving up on it (default 30). */
  database_connection_timeout: z.number().positive().optional(),
  /** A model call must name its end user: the body's "user" (or the end-user headers). */
  enforce_user_param: z.boolean().optional(),
  /** A model call may not carry tags of its own (metadata.tags, tags, x-litellm-tags): only keys', teams' and deployments' tags count. */
  reject_clientside_metadata_tags: z.boolean().optional(),
  /** A header callers may send their key in, ahead of every other (a proxy in front may take Authorization). */
  litellm_key_header_name: z.string().regex(/^[A-Za-z0-9-]+$/, "expected a header name").optional(),
  store_prompts_in_spend_logs: z.boolean().optional(),
  maximum_spend_logs_retention_period: duration.optional(),
  maximum_spend_logs_retention_interval: duration.optional(),
  // Ours, not LiteLLM's: stored prompts and responses usually deserve a shorter life than spend logs.
  maximum_spend_logs_prompts_retention_period: duration.optional(),
  pass_through_endpoints: z.array(passThroughEndpoint).optional(),
});

const routingStrategyArgs = z.looseObject({
  /** latency-based-routing: deployments within this fraction of the fastest share the traffic. */
  lowest_latency_buffer: z.number().nonnegative().optional(),
});

const routerSettings = z.looseObject({
  routing_strategy: z.enum(ROUTING_STRATEGIES).optional(),
  routing_strategy_args: routingStrategyArgs.optional(),
  /** Seconds per call, unless a deployment sets its own. */
  timeout: z.number().positive().optional(),
  stream_timeout: z.number().positive().optional(),
  model_group_alias: modelGroupAlias.optional(),
  /** Send a request only to deployments whose litellm_params.tags it names. */
  enable_tag_filtering: z.boolean().optional(),
  /** Dollars each provider ("openai", "anthropic", …) may cost per time_period; past it, requests go to other providers' deployments. */
  provider_budget_config: z.record(z.string().min(1), z.looseObject({ budget_limit: z.number().nonnegative(), time_period: duration })).optional(),
  ...reliabilitySettings,
});

// LiteLLM's credential_list: named sets of litellm_params (keys, api_base,
// api_version…) that model_list entries take by litellm_credential_name.
const credential = z.looseObject({
  credential_name: z.string().min(1),
  credential_values: z.record(z.string(), z.unknown()),
  credential_info: z.record(z.string(), z.unknown()).optional(),
});

const configSchema = z.looseObject({
  model_list: z.array(modelEntry).default([]),
  credential_list: z.array(credential).optional(),
  litellm_settings: litellmSettings.default({}),
  general_settings: generalSettings.default({}),
  router_settings: routerSettings.default({}),
});

export type GatewayConfig = z.infer<typeof configSchema>;

/** A name clients may use for a model group. */
export interface GroupAlias {
  group: string;
  /** Hidden aliases work but are not listed by /v1/models. */
  hidden: boolean;
  /** The setting that names it. */
  from: "litellm_settings.model_alias_map" | "router_settings.model_group_alias";
}

/**
 * Every model group alias: LiteLLM's litellm_settings.model_alias_map (not
 * listed by /v1/models), then router_settings.model_group_alias, which wins
 * for a name both have.
 */
export function groupAliases(config: GatewayConfig): Map<string, GroupAlias> {
  const aliases = new Map<string, GroupAlias>();
  for (const [name, group] of Object.entries(config.litellm_settings.model_alias_map ?? {})) {
    aliases.set(name, { group, hidden: true, from: "litellm_settings.model_alias_map" });
  }
  for (const [name, to] of Object.entries(config.router_settings.model_group_alias ?? {})) {
    const from = "router_settings.model_group_alias";
    aliases.set(name, typeof to === "string" ? { group: to, hidden: false, from } : { group: to.model, hidden: to.hidden === true, from });
  }
  return aliases;
}
export type ModelEntry = z.infer<typeof modelEntry>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

// What the gateway reads, by section; anything else a LiteLLM config holds there is named at startup.
const READ_SETTINGS: Record<string, ReadonlySet<string>> = {
  "": new Set([...Object.keys(configSchema.shape), "environment_variables"]),
  litellm_settings: new Set(Object.keys(litellmSettings.shape)),
  cache_params: new Set(Object.keys(cacheParams.shape)),
  general_settings: new Set(Object.keys(generalSettings.shape)),
  router_settings: new Set(Object.keys(routerSettings.shape)),
  litellm_params: new Set(Object.keys(litellmParams.shape)),
  model_info: new Set(Object.keys(modelInfo.shape)),
  default_key_generate_params: new Set(Object.keys(defaultKeyParams.shape)),
  upperbound_key_generate_params: new Set(Object.keys(upperboundKeyParams.shape)),
  routing_strategy_args: new Set(Object.keys(routingStrategyArgs.shape)),
};

/**
 * LiteLLM settings in the config that this gateway accepts but does not act
 * on (callbacks, caching, a deployment's max_retries…), by path,
 * so a start can say so rather than leave them silently without effect.
 * model_info is left out: beyond what the gateway reads it is descriptive.
 */
const CALLBACK_SETTINGS = ["callbacks", "success_callback", "failure_callback"] as const;

/** The logging callbacks the config names, each with the setting that names it. */
function callbacksOf(config: GatewayConfig): [setting: string, callback: string][] {
  return CALLBACK_SETTINGS.flatMap((setting) => [config.litellm_settings[setting] ?? []].flat().map((callback) => [setting, callback] as [string, string]));
}

/** Whether the config asks for LiteLLM's Prometheus metrics (its "prometheus" callback). */
export const asksLiteLLMMetrics = (config: GatewayConfig): boolean => callbacksOf(config).some(([, callback]) => callback === "prometheus");

// model_info fields LiteLLM acts on and this gateway does not; the rest of
// a deployment's model_info is read, or only shown by /model/info.
const UNREAD_MODEL_INFO = ["supported_environments"];

export function ignoredSettings(config: GatewayConfig): string[] {
  const unread = (section: string, value: object, path: string) =>
    Object.keys(value)
      .filter((key) => !READ_SETTINGS[section]!.has(key))
      .map((key) => (path ? `${path}.${key}` : key) + meant(section, key));
  const params = config.model_list.flatMap((entry) => unread("litellm_params", entry.litellm_params, "model_list[].litellm_params"));
  const info = config.model_list.flatMap((entry) => UNREAD_MODEL_INFO.filter((key) => entry.model_info?.[key] !== undefined).map((key) => `model_list[].model_info.${key}`));
  return [
    ...unread("", config, ""),
    ...new Set(params),
    ...new Set(info),
    ...unread("litellm_settings", config.litellm_settings, "litellm_settings"),
    ...unread("cache_params", config.litellm_settings.cache_params ?? {}, "litellm_settings.cache_params"),
    ...unread("default_key_generate_params", config.litellm_settings.default_key_generate_params ?? {}, "litellm_settings.default_key_generate_params"),
    ...unread("upperbound_key_generate_params", config.litellm_settings.upperbound_key_generate_params ?? {}, "litellm_settings.upperbound_key_generate_params"),
    ...unread("general_settings", config.general_settings, "general_settings"),
    ...unread("router_settings", config.router_settings, "router_settings"),
    ...unread("routing_strategy_args", config.router_settings.routing_strategy_args ?? {}, "router_settings.routing_strategy_args"),
    ...callbacksOf(config)
      .filter(([, callback]) => callback !== "prometheus")
      .map(([setting, callback]) => `litellm_settings.${setting}: ${callback}`),
  ];
}

/** The sections whose settings a top-level key may have been meant for, indented one level too little. */
const SECTIONS = ["general_settings", "litellm_settings", "router_settings"] as const;

/**
 * A hint for a name the gateway does not read that is most likely a slip:
 * one or two letters off a setting of the same section (`drop_param`,
 * `request_timout`), or, at the top level, a setting of a section written
 * without its indentation (`master_key`). Empty when none fits.
 */
function meant(section: string, key: string): string {
  if (section === "") {
    const home = SECTIONS.find((s) => READ_SETTINGS[s]!.has(key));
    if (home) return ` (did you mean ${home}.${key}? indent it under ${home}:)`;
  }
  if (key.length < 5) return "";
  const near = [...READ_SETTINGS[section]!].find((known) => editDistance(key, known) <= 2);
  return near === undefined ? "" : ` (did you mean ${near}?)`;
}

/** Levenshtein distance, with a swap of two neighbouring letters counted as one edit. */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

const ENV_PREFIX = "os.environ/";

/**
 * Whether the setting at `path` is, or is inside, one this gateway does not
 * read (it is only named at start): a top-level section, a section's
 * setting, or a deployment's parameter or model_info field.
 */
function unreadSetting(path: string): boolean {
  if (!READ_SETTINGS[""]!.has(/^[^.[]*/.exec(path)![0])) return true;
  const cache = /^litellm_settings\.cache_params\.([^.[]+)/.exec(path);
  if (cache) return !READ_SETTINGS["cache_params"]!.has(cache[1]!);
  const section = /^(general_settings|router_settings|litellm_settings)\.([^.[]+)/.exec(path);
  if (section) return !READ_SETTINGS[section[1]!]!.has(section[2]!);
  const entry = /^model_list\[\d+\]\.(litellm_params|model_info)\.([^.[]+)/.exec(path);
  return entry !== null && !READ_SETTINGS[entry[1]!]!.has(entry[2]!);
}

/**
 * Where an unset variable leaves the setting unset, as LiteLLM leaves it,
 * rather than stop the start: the database (the gateway then takes
 * DATABASE_URL, or its embedded one) and settings it does not read.
 */
const mayBeUnset = (path: string): boolean => path === "general_settings.database_url" || unreadSetting(path);

// The settings each config left unset for want of their variables, to be named at start.
const UNSET_BY_CONFIG = new WeakMap<GatewayConfig, string[]>();

/** The settings `config` left unset as their variables were not set ("general_settings.database_url (DATABASE_URL)"). */
export const unsetSettings = (config: GatewayConfig): readonly string[] => UNSET_BY_CONFIG.get(config) ?? [];

/**
 * Replaces every "os.environ/NAME" string with that variable's value; one
 * that is not set stops the start, unless the setting may be left unset
 * (it is then left out, and listed in `unset`).
 */
function resolveEnv(value: unknown, path: string, env: NodeJS.ProcessEnv, unset: string[] = []): unknown {
  if (typeof value === "string" && value.startsWith(ENV_PREFIX)) {
    const name = value.slice(ENV_PREFIX.length);
    const resolved = env[name];
    if (resolved === undefined || resolved === "") {
      if (mayBeUnset(path)) {
        unset.push(`${path} (${name})`);
        return undefined;
      }
      throw new ConfigError(`${path} names environment variable ${name}, which is not set`);
    }
    // What config takes from the environment is mostly secrets: keep it out of the logs.
    redactInLogs([resolved]);
    return resolved;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, `${path}[${i}]`, env, unset));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .map(([k, v]) => [k, resolveEnv(v, path ? `${path}.${k}` : k, env, unset)])
        .filter(([, v]) => v !== undefined),
    );
  }
  return value;
}

/**
 * The file's top level: an empty section (`general_settings:` with every
 * line under it taken out) is YAML's null and means the same as no section.
 */
function sections(raw: unknown): unknown {
  if (!isMap(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== null));
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function includeList(raw: unknown): string[] {
  const include = isMap(raw) ? raw["include"] : undefined;
  if (include === undefined || include === null) return [];
  if (!Array.isArray(include) || !include.every((file): file is string => typeof file === "string" && file !== "")) {
    throw new ConfigError("config is invalid: include: expected a list of file paths");
  }
  return include;
}

/** The file names config.yaml's `include:` lists (relative to its directory); none when it has none. */
export function includedFiles(text: string): string[] {
  try {
    return includeList(parse(text));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config is not valid YAML: ${(err as Error).message}`);
  }
}

/**
 * LiteLLM's `include:`: each file's sections join config.yaml's, in order,
 * a list (model_list) extending the one before and anything else replacing
 * it. Only config.yaml's own include list is read, as in LiteLLM.
 */
function withIncludes(raw: Record<string, unknown>, dir: string | undefined): Record<string, unknown> {
  const files = includeList(raw);
  const { include: _, ...config } = raw;
  if (files.length === 0) return config;
  if (dir === undefined) throw new ConfigError("config is invalid: include: only a config file read from disk can include others");
  for (const file of files) {
    const path = resolve(dir, file);
    let included: unknown;
    try {
      included = sections(parse(readFileSync(path, "utf8")) ?? {});
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError(`config is invalid: include: cannot read ${file} (${path}): ${reason}`);
    }
    if (!isMap(included)) throw new ConfigError(`config is invalid: include: ${file} is not a map of settings`);
    for (const [key, value] of Object.entries(included)) {
      const current = config[key];
      config[key] = Array.isArray(value) && Array.isArray(current) ? [...current, ...value] : value;
    }
  }
  return config;
}

/**
 * LiteLLM's `environment_variables:` block sets variables as the config
 * loads, for `os.environ/NAME` references and everything else that reads the
 * environment; like LiteLLM, they win over what the process was started with.
 */
function applyEnvironmentVariables(raw: unknown, env: NodeJS.ProcessEnv): void {
  const block = (raw as { environment_variables?: unknown } | null)?.environment_variables;
  if (block === undefined) return;
  if (block === null || typeof block !== "object" || Array.isArray(block)) {
    throw new ConfigError("config is invalid: environment_variables: expected a map of names to values");
  }
  const given: string[] = [];
  for (const [name, value] of Object.entries(block)) {
    // A name with no value (`REDIS_PASSWORD:`, as LiteLLM's own example has) sets nothing.
    if (value === null) continue;
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new ConfigError(`config is invalid: environment_variables.${name}: expected a string`);
    }
    env[name] = String(value);
    given.push(env[name]);
  }
  // Mostly provider keys: keep them out of the logs.
  redactInLogs(given);
}

// LiteLLM settings that narrow who may call which routes. Named at start and
// otherwise ignored, as other settings this gateway does not implement are,
// they would leave open what the config means closed, so they stop it.
const REFUSED_GENERAL_SETTINGS: Record<string, string> = {
  allowed_routes: "a key's allowed_routes, set with /key/generate, limit the routes that key may call",
  admin_only_routes: "management routes already take the master key or an admin's key",
};

/**
 * A config from its text; `dir`, the directory of the file it was read
 * from, is where the files its `include:` names are.
 */
export function parseConfig(text: string, env: NodeJS.ProcessEnv = process.env, dir?: string): GatewayConfig {
  let raw: unknown;
  try {
    raw = sections(parse(text) ?? {});
  } catch (err) {
    throw new ConfigError(`config is not valid YAML: ${(err as Error).message}`);
  }
  if (isMap(raw)) raw = withIncludes(raw, dir);
  applyEnvironmentVariables(raw, env);
  const unset: string[] = [];
  const result = configSchema.safeParse(resolveEnv(raw, "", env, unset));
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigError(`config is invalid: ${issues.join("; ")}`);
  }
  const config = result.data;
  const credentials = credentialsOf(config);
  // A name not in credential_list may be a credential stored with POST /credentials: the router fills those in (withCredential).
  config.model_list = config.model_list.map((entry, i) => (credentials.has(entry.litellm_params.litellm_credential_name ?? "") ? withCredential(entry, credentials, `model_list[${i}]`) : entry));
  for (const [name, instead] of Object.entries(REFUSED_GENERAL_SETTINGS)) {
    if (name in config.general_settings) throw new ConfigError(`general_settings.${name} is not implemented here, and without it the gateway would serve what it is meant to refuse: remove it (${instead})`);
  }
  if (unset.length > 0) UNSET_BY_CONFIG.set(config, unset);
  if (config.general_settings.master_key === undefined && env["LITELLM_MASTER_KEY"]) {
    config.general_settings.master_key = env["LITELLM_MASTER_KEY"];
  }
  redactInLogs([config.general_settings.master_key ?? "", config.general_settings.database_url ?? "", ...config.model_list.flatMap(entrySecrets)]);
  for (const [i, endpoint] of (config.general_settings.pass_through_endpoints ?? []).entries()) {
    endpoint.headers = passThroughHeaders(endpoint.headers, `general_settings.pass_through_endpoints[${i}].headers`, env);
  }
  return config;
}

// A header value that names a variable after a word, as LiteLLM's pass-through headers may: "Bearer os.environ/COHERE_API_KEY".
const EMBEDDED_ENV = /^(.*\s)os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;

// Headers whose values are credentials, whether written out or taken from the environment.
const CREDENTIAL_HEADER = /authorization|key|token|secret|cookie/i;

/** A pass-through endpoint's headers with embedded variables filled in; credentials and what came from the environment are kept out of the logs. */
function passThroughHeaders(headers: Record<string, string>, path: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const embedded = EMBEDDED_ENV.exec(value);
    const secret = embedded ? env[embedded[2]!] : undefined;
    if (embedded && !secret) throw new ConfigError(`${path}.${name} names environment variable ${embedded[2]}, which is not set`);
    resolved[name] = embedded ? `${embedded[1]}${secret}` : value;
    redactInLogs([secret ?? "", CREDENTIAL_HEADER.test(name) ? resolved[name] : ""]);
  }
  return resolved;
}

/** What a model_list entry holds that must not reach a log: its keys, and the values of the headers it sends. */
function entrySecrets(entry: ModelEntry): string[] {
  const p = entry.litellm_params;
  // A path of vertex_credentials is no secret; the key file's JSON is, and what it holds is kept out as it is read.
  const credentials = p.vertex_credentials ?? "";
  const aws = [p.aws_secret_access_key ?? "", p.aws_session_token ?? "", p.aws_web_identity_token ?? ""];
  return [p.api_key ?? "", ...aws, credentials.trimStart().startsWith("{") ? credentials : "", ...Object.values(p.extra_headers ?? {})];
}

/** Credentials by credential_name: config.yaml's credential_list, and those stored with POST /credentials. */
export type Credentials = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

export function credentialsOf(config: GatewayConfig): Credentials {
  const credentials = new Map<string, Readonly<Record<string, unknown>>>();
  for (const [i, c] of (config.credential_list ?? []).entries()) {
    if (credentials.has(c.credential_name)) throw new ConfigError(`config is invalid: credential_list[${i}].credential_name: "${c.credential_name}" is named twice`);
    credentials.set(c.credential_name, c.credential_values);
  }
  return credentials;
}

/** A stored credential's values (POST /credentials) as a model takes them: "os.environ/NAME" read from the environment, as config.yaml's are; throws a ConfigError naming `where` for a variable not set. */
export function credentialValues(values: Readonly<Record<string, unknown>>, where: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const unset: string[] = [];
  const resolved = resolveEnv(values, where, env, unset) as Record<string, unknown>;
  // Unlike a setting this gateway does not read, a credential's value is needed.
  if (unset.length > 0) throw new ConfigError(`environment variable not set: ${unset.join(", ")}`);
  return resolved;
}

/**
 * An entry with the values of the credential its litellm_credential_name
 * names filled in where its own litellm_params leave them unset (what the
 * entry sets wins), checked again as a whole.
 */
export function withCredential(entry: ModelEntry, credentials: Credentials, where: string): ModelEntry {
  const name = entry.litellm_params.litellm_credential_name;
  if (name === undefined) return entry;
  const values = credentials.get(name);
  if (values === undefined) {
    const known = [...credentials.keys()];
    throw new ConfigError(
      `${where}.litellm_params.litellm_credential_name: no credential named "${name}" in credential_list or stored with POST /credentials (${known.length > 0 ? `there are ${known.join(", ")}` : "there are none"})`,
    );
  }
  return checkedEntry({ ...entry, litellm_params: { ...values, ...entry.litellm_params } }, where, `with credential "${name}"`);
}

/** A model_list entry checked against the schema; throws a ConfigError saying `what` and each issue's path under `where`. */
function checkedEntry(value: unknown, where: string, what: string): ModelEntry {
  const result = modelEntry.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${[where, ...i.path].join(".")}: ${i.message}`);
    throw new ConfigError(`${what}: ${issues.join("; ")}`);
  }
  return result.data;
}

/**
 * One model_list entry from outside config.yaml (POST /model/new), checked
 * as the file's entries are; `os.environ/NAME` values are resolved, and a
 * litellm_credential_name takes its values from `credentials`.
 */
export function parseModelEntry(value: unknown, where: string, credentials: Credentials, env: NodeJS.ProcessEnv = process.env): ModelEntry {
  const entry = withCredential(checkedEntry(resolveEnv(value, where, env), where, "model is invalid"), credentials, where);
  redactInLogs(entrySecrets(entry));
  return entry;
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parseConfig(text, env, dirname(path));
}
