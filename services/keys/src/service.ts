import { create } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { gatewayError, releaseCodec, releaseSubject, type Bus } from "@gateway/common";
import {
  Access,
  AuthorizeRequestSchema,
  KeysService,
  ReleaseResponseSchema,
  type ReleaseRequest,
} from "@gateway/proto/keys/v1/keys_pb.js";
import { bearerOf, requireMaster, type AdminDeps } from "./admin/context.js";
import { deleteKeys } from "./admin/delete.js";
import { generateKey, regenerateKey } from "./admin/generate.js";
import { getKey, listKeys } from "./admin/read.js";
import { createCustomer, deleteCustomers, getCustomer, listCustomers, setCustomersBlocked, updateCustomer } from "./admin/customers.js";
import { gatewayBudget } from "./admin/gateway-budget.js";
import { createTag, deleteTag, getTags, listTags, updateTag } from "./admin/tags.js";
import { createUser, deleteUsers, getUser, listUsers, updateUser } from "./admin/users.js";
import { addTeamMembers, createTeam, deleteTeams, getTeam, listTeams, removeTeamMember, setTeamBlocked, updateTeam, updateTeamMember } from "./admin/teams.js";
import { setBlocked, updateKey } from "./admin/update.js";
import { createAuthorize, type AuthorizeDeps } from "./authorize.js";
import { createWatchKeys } from "./watch-keys.js";

export interface KeysDeps extends AuthorizeDeps, AdminDeps {
  bus: Bus;
}

export function createKeysService(deps: KeysDeps): ServiceImpl<typeof KeysService> & { stop(): void; endWatches(): void } {
  const authorize = createAuthorize(deps);
  const watches = new AbortController();
  const released = create(ReleaseResponseSchema);
  const settle = (req: ReleaseRequest) => (req.usageUnknown ? deps.limits.settleAsReserved(req.requestId) : deps.limits.settle(req.requestId, req.cost, req.totalTokens));
  const stopListening = deps.bus.listen(releaseSubject(deps.holder), (data) => settle(releaseCodec.decode(data)));
  const admin = <I, O>(fn: (deps: AdminDeps, req: I) => Promise<O>) => (req: I, ctx: HandlerContext) => {
    requireMaster(deps, ctx);
    return fn(deps, req);
  };

  return {
    authorize,
    release(req) {
      if (req.holder === "" || req.holder === deps.holder) settle(req);
      else deps.bus.broadcast(releaseSubject(req.holder), releaseCodec.encode(req));
      return released;
    },
    watchKeys: createWatchKeys(deps.cache, watches.signal),
    generateKey: admin(generateKey),
    regenerateKey: admin(regenerateKey),
    updateKey: admin(async (d, req) => ({ key: await updateKey(d, req) })),
    async getKey(req, ctx) {
      // Any valid key may ask, about itself; getKey decides what it may see.
      const caller = await authorize(create(AuthorizeRequestSchema, { apiKey: bearerOf(ctx), access: Access.LOOKUP }));
      return { key: await getKey(deps, req, caller.isMaster ? undefined : caller.keyHash) };
    },
    listKeys: admin(listKeys),
    deleteKeys: admin(deleteKeys),
    blockKey: admin(async (d, req) => ({ key: await setBlocked(d, req.ref, true) })),
    unblockKey: admin(async (d, req) => ({ key: await setBlocked(d, req.ref, false) })),
    createTeam: admin(createTeam),
    updateTeam: admin(updateTeam),
    async getTeam(req, ctx) {
      // The master key may read any team; a virtual key its own team, as in LiteLLM.
      const caller = await authorize(create(AuthorizeRequestSchema, { apiKey: bearerOf(ctx), access: Access.LOOKUP }));
      if (!caller.isMaster && (req.teamId === "" || caller.teamId !== req.teamId)) {
        throw gatewayError("You are not allowed to access this team's info", Code.PermissionDenied, { type: "permission_error", param: "team_id" });
      }
      return getTeam(deps, req);
    },
    listTeams: admin(listTeams),
    deleteTeams: admin(deleteTeams),
    blockTeam: admin((d, req) => setTeamBlocked(d, req.teamId, true)),
    unblockTeam: admin((d, req) => setTeamBlocked(d, req.teamId, false)),
    addTeamMembers: admin(addTeamMembers),
    removeTeamMember: admin(removeTeamMember),
    updateTeamMember: admin(updateTeamMember),
    createUser: admin(createUser),
    updateUser: admin(updateUser),
    async getUser(req, ctx) {
      // The master key may read any user; a virtual key its own user, as in LiteLLM.
      const caller = await authorize(create(AuthorizeRequestSchema, { apiKey: bearerOf(ctx), access: Access.LOOKUP }));
      return getUser(deps, req, caller.isMaster ? undefined : caller.userId);
    },
    listUsers: admin(listUsers),
    deleteUsers: admin(deleteUsers),
    createCustomer: admin(createCustomer),
    updateCustomer: admin(updateCustomer),
    getCustomer: admin(getCustomer),
    listCustomers: admin(listCustomers),
    deleteCustomers: admin(deleteCustomers),
    blockCustomers: admin((d, req) => setCustomersBlocked(d, req.userIds, true)),
    unblockCustomers: admin((d, req) => setCustomersBlocked(d, req.userIds, false)),
    getGatewayBudget: admin(gatewayBudget),
    createTag: admin(createTag),
    updateTag: admin(updateTag),
    getTags: admin(getTags),
    listTags: admin(listTags),
    deleteTag: admin(deleteTag),
    stop: stopListening,
    endWatches: () => watches.abort(),
  };
}

export const keysRoutes = (impl: ServiceImpl<typeof KeysService>) => (router: ConnectRouter) => router.service(KeysService, impl);
