import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError, hashKey, requestTags, routeAllowed, routeRefused } from "@gateway/common";
import { StringEntrySchema, type StringEntry } from "@gateway/proto/entries/v1/entries_pb.js";
import { Access, AuthorizeResponseSchema, type AuthorizeRequest, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import type { CustomerCache, CustomerRecord } from "./customer-record.js";
import type { DefaultCustomerBudget } from "./default-customer-budget.js";
import type { KeyCache } from "./key-cache.js";
import type { KeyRecord } from "./key-record.js";
import { holdsLimits, type LimitHolder } from "./limit-holder.js";
import type { Limits } from "./limits.js";
import type { MasterKey } from "./master-key.js";
import type { ModelAccess } from "./model-access.js";
import type { OrganizationCache, OrganizationRecord } from "./organization-record.js";
import type { ReservationPricing } from "./reservation-pricing.js";
import { requireRole } from "./roles.js";
import type { TagCache } from "./tag-record.js";
import { allowedModels, type TeamCache, type TeamRecord } from "./team-record.js";
import type { UserCache } from "./user-record.js";

export interface AuthorizeDeps {
  masterKey: MasterKey;
  cache: KeyCache;
  teams: TeamCache;
  organizations: OrganizationCache;
  users: UserCache;
  customers: CustomerCache;
  /** litellm_settings.max_end_user_budget_id's budget; undefined when the config names none. */
  defaultCustomerBudget: DefaultCustomerBudget | undefined;
  tags: TagCache;
  /** The gateway's own limits over every call (gateway-limits.ts); null when the config sets none. */
  gateway: LimitHolder | null;
  limits: Limits;
  pricing: ReservationPricing;
  /** Model access groups, for keys' and teams' models. */
  access: ModelAccess;
  /** This replica's id; Release finds its reservations here. */
  holder: string;
}

// Shared by the answers that list no aliases (all but LOOKUP's) or no renamed fallbacks; never written to.
const NO_ALIASES = Object.freeze([]) as unknown as StringEntry[];
const NO_FALLBACKS = Object.freeze([]) as unknown as string[];

// Tokens are about four bytes of text; tpm reserves that much of the prompt.
const BYTES_PER_TOKEN = 4;
// What a call whose cost is not known up front reserves: a trace, so that a budget with no room left refuses it.
const ROOM_LEFT = 1e-12;

function unauthenticated(message: string, code = "invalid_api_key"): Error {
  return gatewayError(message, Code.Unauthenticated, { type: "authentication_error", code });
}

export function invalidKey(): Error {
  return unauthenticated("Authentication Error, invalid API key");
}

/**
 * The model group a request for `model` calls: the gateway's
 * model_alias_map, then its team's alias, then the key's, as LiteLLM renames
 * it; access and prices follow that group.
 */
function renamed(model: string, key: KeyRecord, team: TeamRecord | undefined, renames: ReadonlyMap<string, string>): string {
  const globallyAliased = renames.get(model) ?? model;
  const teamAliased = team?.modelAliases?.get(globallyAliased) ?? globallyAliased;
  return key.aliases?.get(teamAliased) ?? teamAliased;
}

/** Every name the key's and its team's aliases rename, with the group it calls. */
function aliasesOf(key: KeyRecord, team: TeamRecord | undefined, renames: ReadonlyMap<string, string>): StringEntry[] {
  const names = new Set([...(team?.modelAliases?.keys() ?? []), ...(key.aliases?.keys() ?? [])]);
  return [...names].map((name) => create(StringEntrySchema, { key: name, value: renamed(name, key, team, renames) }));
}

/** The hot path: every check in memory; limits reserve from this replica's holdings. */
export function createAuthorize(deps: AuthorizeDeps): (req: AuthorizeRequest) => Promise<AuthorizeResponse> {
  const masterAnswer = () =>
    create(AuthorizeResponseSchema, {
      keyHash: deps.masterKey.hash,
      isMaster: true,
      keyAlias: "master",
      userRole: "proxy_admin",
      holder: deps.holder,
      reusableUntilMs: Number.MAX_SAFE_INTEGER,
    });
  const master = masterAnswer();

  function check(key: KeyRecord | undefined): KeyRecord {
    if (!key) throw invalidKey();
    if (key.blocked) throw unauthenticated("Authentication Error, this key is blocked", "key_blocked");
    if (key.expiresAtMs !== null && key.expiresAtMs <= Date.now()) {
      throw unauthenticated(`Authentication Error, this key expired at ${new Date(key.expiresAtMs).toISOString()}`, "key_expired");
    }
    return key;
  }

  /** The model as the refusals name it: an alias's model group, with the name asked for. */
  const named = (model: string, asked: string) => (model === asked ? model : `${model} (asked for as ${asked})`);

  function checkModel(key: KeyRecord, model: string, asked: string, param: string): void {
    if (model !== "" && !deps.access.allows(key.models, model)) {
      throw gatewayError(
        `This key may not use model=${named(model, asked)}. It may use models=[${key.modelList.join(", ")}]`,
        Code.Unauthenticated,
        { type: "key_model_access_denied", code: "401", param },
      );
    }
  }

  function checkTeam(team: TeamRecord, model: string, asked: string, param: string): void {
    if (team.blocked) throw unauthenticated(`Authentication Error, this key's team (${team.id}) is blocked`, "team_blocked");
    if (model !== "" && !deps.access.allows(team.models, model)) {
      throw gatewayError(
        `Team=${team.id} may not use model=${named(model, asked)}. It may use models=[${team.modelList.join(", ")}]`,
        Code.Unauthenticated,
        { type: "team_model_access_denied", code: "401", param },
      );
    }
  }

  function checkOrganization(organization: OrganizationRecord, model: string, asked: string, param: string): void {
    if (organization.blocked) throw unauthenticated(`Authentication Error, this key's organization (${organization.id}) is blocked`, "organization_blocked");
    if (model !== "" && !deps.access.allows(organization.models, model)) {
      throw gatewayError(
        `Organization=${organization.id} may not use model=${named(model, asked)}. It may use models=[${organization.modelList.join(", ")}]`,
        Code.Unauthenticated,
        { type: "organization_model_access_denied", code: "401", param },
      );
    }
  }

  /** The model group a name asked for (`param`: the model or a fallback) calls, once the key, its team and organization may use it. */
  function mayUse(asked: string, param: string, key: KeyRecord, team: TeamRecord | undefined, organization: OrganizationRecord | undefined): string {
    const model = renamed(asked, key, team, deps.access.renames);
    checkModel(key, model, asked, param);
    if (team) checkTeam(team, model, asked, param);
    if (organization) checkOrganization(organization, model, asked, param);
    return model;
  }

  /** The role of the key's user; none for a key whose user_id names no user. */
  function roleOf(key: KeyRecord): string {
    return key.userId === "" ? "" : (deps.users.get(key.userId)?.role ?? "");
  }

  /** The request's end user, when it names a known customer; a blocked one is refused, as LiteLLM's blocked-user check does. */
  function customerOf(req: AuthorizeRequest): CustomerRecord | undefined {
    const customer = req.endUser === "" ? undefined : deps.customers.get(req.endUser);
    if (customer?.blocked) {
      throw gatewayError(`User blocked from making LLM API Calls. User=${req.endUser}`, Code.InvalidArgument, { type: "invalid_request_error", code: "customer_blocked", param: "user" });
    }
    return customer;
  }

  /** The end user's limits: its customer's own, else the default budget's (max_end_user_budget_id); null without either. */
  function endUserLimits(req: AuthorizeRequest, customer: CustomerRecord | undefined): LimitHolder | null {
    if (customer?.limits) return customer.limits;
    return req.endUser === "" ? null : (deps.defaultCustomerBudget?.limitsFor(req.endUser) ?? null);
  }

  /** Adds the limits of each known tag that sets any: the request's own tags, then its key's and team's, each once (requestTags). */
  function addTagLimits(holders: LimitHolder[], ...lists: readonly (readonly string[] | undefined)[]): void {
    for (const tag of requestTags(...lists)) {
      const limits = deps.tags.get(tag);
      if (limits) holders.push(limits);
    }
  }

  /**
   * The most the request can cost on its model group or any of its fallbacks
   * (the router may end on any of them); a call that names no model (a
   * pass-through endpoint) costs what it says up front, and one whose cost
   * is not known up front (the Files and Batch APIs') needs room left.
   */
  const maxCostOf = (req: AuthorizeRequest, model: string, fallbacks: readonly string[]): number => {
    if (req.model === "") return req.fixedCost;
    if (req.costUnknown) return ROOM_LEFT;
    let most = deps.pricing.maxCost(model, req.promptTokens, req.maxTokens, req.answers);
    for (const fallback of fallbacks) most = Math.max(most, deps.pricing.maxCost(fallback, req.promptTokens, req.maxTokens, req.answers));
    return most;
  };

  const reserve = async (response: AuthorizeResponse, holders: LimitHolder[], req: AuthorizeRequest, model: string, fallbacks: readonly string[]): Promise<AuthorizeResponse> => {
    response.reserved = true;
    response.reusableUntilMs = 0;
    response.rateLimit = await deps.limits.admit(holders, req.requestId, {
      tokens: req.promptTokens / BYTES_PER_TOKEN + req.maxTokens * Math.max(1, req.answers),
      maxCost: maxCostOf(req, model, fallbacks),
    });
    return response;
  };

  return async (req) => {
    if (req.apiKey === "") throw unauthenticated("No API key provided; send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'", "missing_api_key");
    const hash = hashKey(req.apiKey);
    if (deps.masterKey.matchesHash(hash)) {
      // The gateway's, a customer's and a tag's limits hold whatever the key, the master key's requests too (as in LiteLLM).
      const customerLimits = endUserLimits(req, customerOf(req));
      const inference = req.access === Access.INFERENCE || req.access === Access.UNSPECIFIED;
      if (!inference) return master;
      const holders: LimitHolder[] = deps.gateway ? [deps.gateway] : [];
      if (customerLimits) holders.push(customerLimits);
      addTagLimits(holders, req.requestTags);
      return holders.length > 0 ? reserve(masterAnswer(), holders, req, req.model, req.fallbacks) : master;
    }
    const cached = deps.cache.get(hash);
    const key = check(cached instanceof Promise ? await cached : cached);
    // Before any limit is taken: a call on a route the key may not use must not use up its rate limits.
    if (req.route && !routeAllowed(key.allowedRoutes, req.route)) throw routeRefused(req.route, key.allowedRoutes);
    // A team_id that names no team (any more) is only a label.
    const team = key.teamId === "" ? undefined : deps.teams.get(key.teamId);
    // The team's organization, else the key's own; an organization_id that names no organization (any more) is only a label.
    const organizationId = team?.organizationId || key.organizationId;
    const organization = organizationId === "" ? undefined : deps.organizations.get(organizationId);
    const model = mayUse(req.model, "model", key, team, organization);
    const fallbacks = req.fallbacks.length === 0 ? NO_FALLBACKS : req.fallbacks.map((asked) => mayUse(asked, "fallbacks", key, team, organization));
    // A whole message rather than create(): this runs on every request.
    const response: AuthorizeResponse = {
      $typeName: "gateway.keys.v1.AuthorizeResponse",
      keyHash: key.hash,
      keyAlias: key.alias,
      userId: key.userId,
      teamId: key.teamId,
      teamAlias: team?.alias ?? "",
      models: (team ? allowedModels(key, team, deps.access) : deps.access.expand(key.modelList)) as string[],
      holder: deps.holder,
      isMaster: false,
      rateLimit: undefined,
      reserved: false,
      // Reusable while nothing changes the key (WatchKeys says when), up to its expiry.
      reusableUntilMs: key.expiresAtMs ?? Number.MAX_SAFE_INTEGER,
      tags: (team && team.tags.length > 0 ? requestTags(key.tags, team.tags) : key.tags) as string[],
      allowedRoutes: key.allowedRoutes as string[],
      userRole: "",
      model: model === req.model ? "" : model,
      modelAliases: NO_ALIASES,
      fallbacks: fallbacks.some((f, i) => f !== req.fallbacks[i]) ? fallbacks : NO_FALLBACKS,
    };
    if (req.access === Access.MANAGEMENT || req.access === Access.VIEW) {
      response.userRole = roleOf(key);
      requireRole(response.userRole, req.access);
      return response;
    }
    const customer = customerOf(req);
    if (req.access === Access.LOOKUP) {
      response.userRole = roleOf(key);
      response.modelAliases = aliasesOf(key, team, deps.access.renames);
      return response;
    }
    // The gateway's limits, the key's (its own and the model group's), its team's, its team's organization's, its user's
    // (outside a team all of them, in a team its rate limits only: the team's budget stands in, with the
    // user's own within the team and the organization, as a member), its end user's and its tags'.
    const holders: LimitHolder[] = deps.gateway ? [deps.gateway] : [];
    if (holdsLimits(key)) holders.push(key);
    const modelLimits = key.modelLimits?.get(model);
    if (modelLimits) holders.push(modelLimits);
    if (team && holdsLimits(team)) holders.push(team);
    const teamModelLimits = team?.modelLimits?.get(model);
    if (teamModelLimits) holders.push(teamModelLimits);
    const user = key.userId === "" ? undefined : deps.users.get(key.userId);
    const userLimits = team ? user?.inTeam : user?.personal;
    if (userLimits) holders.push(userLimits);
    const member = team && key.userId !== "" ? team.members.get(key.userId) : undefined;
    if (member) holders.push(member);
    if (organization && holdsLimits(organization)) holders.push(organization);
    const organizationMember = organization && key.userId !== "" ? organization.members.get(key.userId) : undefined;
    if (organizationMember) holders.push(organizationMember);
    const customerLimits = endUserLimits(req, customer);
    if (customerLimits) holders.push(customerLimits);
    addTagLimits(holders, req.requestTags, key.tags, team?.tags);
    return holders.length > 0 ? reserve(response, holders, req, model, fallbacks) : response;
  };
}
