import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { readsAll, releaseCodec, releaseSubject, sendRelease, type Bus, type Logger } from "@gateway/common";
import {
  Access,
  AuthorizeRequestSchema,
  KeysService,
  ReleaseResponseSchema,
  type ReleaseRequest,
} from "@gateway/proto/keys/v1/keys_pb.js";
import type { Caller } from "./admin/access.js";
import { bearerOf, type AdminDeps } from "./admin/context.js";
import { deleteKeys } from "./admin/delete.js";
import { generateKey, regenerateKey } from "./admin/generate.js";
import { getKey, listKeyAliases, listKeys } from "./admin/read.js";
import { carryEndUserSpendRest, createBudget, deleteBudget, getBudgets, listBudgets, updateBudget } from "./admin/budgets.js";
import { createCustomer, deleteCustomers, getCustomer, listCustomers, setCustomersBlocked, updateCustomer } from "./admin/customers.js";
import { gatewayBudget } from "./admin/gateway-budget.js";
import {
  addOrganizationMembers,
  createOrganization,
  deleteOrganizations,
  getOrganization,
  listOrganizations,
  removeOrganizationMember,
  updateOrganization,
  updateOrganizationMember,
} from "./admin/organizations.js";
import { createTag, deleteTag, getTags, listTags, updateTag } from "./admin/tags.js";
import { createUser, deleteUsers, getUser, listUsers, updateUser } from "./admin/users.js";
import {
  addTeamMembers,
  changeTeamModels,
  createTeam,
  deleteTeams,
  getTeam,
  listAvailableTeams,
  listTeams,
  removeTeamMember,
  setTeamBlocked,
  updateTeam,
  updateTeamMember,
} from "./admin/teams.js";
import { setBlocked, updateKey } from "./admin/update.js";
import { createAuthorize, type AuthorizeDeps } from "./authorize.js";
import { createWatchKeys } from "./watch-keys.js";

export interface KeysDeps extends AuthorizeDeps, AdminDeps {
  bus: Bus;
  logger: Logger;
}

export function createKeysService(deps: KeysDeps): ServiceImpl<typeof KeysService> & { stop(): void; endWatches(): void } {
  const authorize = createAuthorize(deps);
  const watches = new AbortController();
  const released = create(ReleaseResponseSchema);
  const settle = (req: ReleaseRequest) => (req.usageUnknown ? deps.limits.settleAsReserved(req.requestId) : deps.limits.settle(req.requestId, req.cost, Number(req.totalTokens)));
  const stopListening = deps.bus.listen(releaseSubject(deps.holder), (data) => settle(releaseCodec.decode(data)));
  // Management calls: the caller's key, checked for the access the call needs, decides what it may do.
  const caller = (ctx: HandlerContext, access: Access) => authorize(create(AuthorizeRequestSchema, { apiKey: bearerOf(ctx), access }));
  const as =
    (access: Access) =>
    <I, O>(fn: (deps: AdminDeps, req: I, caller: Caller) => Promise<O>) =>
    async (req: I, ctx: HandlerContext) =>
      fn(deps, req, await caller(ctx, access));
  // Changes only admins make, reads of everything, and calls each decides on itself.
  const admin = as(Access.MANAGEMENT);
  const viewer = as(Access.VIEW);
  const anyKey = as(Access.LOOKUP);

  return {
    authorize,
    release(req) {
      if (req.holder === "" || req.holder === deps.holder) settle(req);
      else void sendRelease(deps.bus, req, deps.logger);
      return released;
    },
    watchKeys: createWatchKeys(deps.cache, watches.signal),
    generateKey: anyKey(generateKey),
    regenerateKey: anyKey(regenerateKey),
    updateKey: anyKey(async (d, req, c) => ({ key: await updateKey(d, req, c) })),
    getKey: anyKey(async (d, req, c) => ({ key: await getKey(d, req, c) })),
    listKeys: anyKey(listKeys),
    listKeyAliases: anyKey(listKeyAliases),
    deleteKeys: anyKey(deleteKeys),
    blockKey: admin(async (d, req, c) => ({ key: await setBlocked(d, c, req.ref, true) })),
    unblockKey: admin(async (d, req, c) => ({ key: await setBlocked(d, c, req.ref, false) })),
    createTeam: anyKey(createTeam),
    updateTeam: anyKey(updateTeam),
    getTeam: anyKey(getTeam),
    listTeams: anyKey(listTeams),
    listAvailableTeams: anyKey(listAvailableTeams),
    deleteTeams: anyKey(deleteTeams),
    blockTeam: anyKey((d, req, c) => setTeamBlocked(d, req.teamId, true, c)),
    unblockTeam: anyKey((d, req, c) => setTeamBlocked(d, req.teamId, false, c)),
    addTeamMembers: anyKey(addTeamMembers),
    removeTeamMember: anyKey(removeTeamMember),
    updateTeamMember: anyKey(updateTeamMember),
    changeTeamModels: anyKey(changeTeamModels),
    createUser: admin(createUser),
    updateUser: admin(updateUser),
    // Whoever reads everything may read any user; other keys their own user, as in LiteLLM.
    getUser: anyKey((d, req, c) => getUser(d, req, readsAll(c.userRole) ? undefined : c.userId)),
    listUsers: viewer(listUsers),
    deleteUsers: admin(deleteUsers),
    createCustomer: admin(createCustomer),
    updateCustomer: admin(updateCustomer),
    getCustomer: viewer(getCustomer),
    listCustomers: viewer(listCustomers),
    deleteCustomers: admin(deleteCustomers),
    blockCustomers: admin((d, req) => setCustomersBlocked(d, req.userIds, true)),
    unblockCustomers: admin((d, req) => setCustomersBlocked(d, req.userIds, false)),
    createBudget: admin(createBudget),
    updateBudget: admin(updateBudget),
    getBudgets: viewer(getBudgets),
    listBudgets: viewer(listBudgets),
    deleteBudget: admin(deleteBudget),
    carryEndUserSpend: admin(carryEndUserSpendRest),
    getGatewayBudget: viewer(gatewayBudget),
    createTag: admin(createTag),
    updateTag: admin(updateTag),
    getTags: viewer(getTags),
    listTags: viewer(listTags),
    deleteTag: admin(deleteTag),
    createOrganization: admin(createOrganization),
    updateOrganization: admin(updateOrganization),
    getOrganization: anyKey(getOrganization),
    listOrganizations: anyKey(listOrganizations),
    deleteOrganizations: admin(deleteOrganizations),
    addOrganizationMembers: anyKey(addOrganizationMembers),
    updateOrganizationMember: anyKey(updateOrganizationMember),
    removeOrganizationMember: anyKey(removeOrganizationMember),
    stop: stopListening,
    endWatches: () => watches.abort(),
  };
}

export const keysRoutes = (impl: ServiceImpl<typeof KeysService>) => (router: ConnectRouter) => router.service(KeysService, impl);
