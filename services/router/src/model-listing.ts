import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import { AccessGroupListing, type ListModelsRequest, type ListModelsResponseSchema } from "@gateway/proto/router/v1/router_pb.js";
import type { ModelGroups } from "./config/model-groups.js";
import { modelGroupInfo } from "./model-admin/model-group-info.js";
import { withProviderModels, type WildcardListing } from "./wildcard-listing.js";

/** Each kind of fallback a listing may show, as router_settings names them. */
const FALLBACKS: Record<string, (groups: ModelGroups, name: string) => readonly string[]> = {
  general: (groups, name) => groups.settings.fallbacks.get(name) ?? groups.settings.defaultFallbacks,
  context_window: (groups, name) => groups.settings.contextWindowFallbacks.get(name) ?? [],
  content_policy: (groups, name) => groups.settings.contentPolicyFallbacks.get(name) ?? [],
};

/**
 * ListModels: the names /v1/models (and /model_group/info) lists for a
 * caller whose models are `only` (empty: every one; an access group stands
 * for its model groups): the model groups and listed aliases, wildcard
 * groups as their providers' models under check_provider_endpoint, and the
 * access groups of those listed when asked.
 */
export async function listModels(groups: ModelGroups, listing: WildcardListing, req: ListModelsRequest): Promise<MessageInitShape<typeof ListModelsResponseSchema>> {
  const fallbacksOf = req.fallbackType === "" ? undefined : FALLBACKS[req.fallbackType];
  if (req.fallbackType !== "" && !fallbacksOf) {
    throw gatewayError(`fallback_type must be one of ${Object.keys(FALLBACKS).join(", ")}: ${req.fallbackType}`, Code.InvalidArgument, {
      type: "invalid_request_error",
      param: "fallback_type",
    });
  }
  const only = new Set(req.only.flatMap((name) => groups.accessGroups.get(name) ?? [name]));
  let names = only.size === 0 ? groups.listed() : groups.listed().filter((n) => only.has(n));
  const listed = new Set(names);
  const accessGroups = [...groups.accessGroups].filter(([, members]) => members.some((m) => listed.has(m))).map(([group]) => group);
  if (req.accessGroups === AccessGroupListing.ONLY) {
    names = accessGroups;
  } else {
    if (groups.settings.checkProviderEndpoint && !req.withInfo) names = await withProviderModels(names, groups, listing, req.withWildcardRoutes);
    if (req.accessGroups === AccessGroupListing.INCLUDE) names = [...names, ...accessGroups.filter((group) => !listed.has(group))];
  }
  return {
    models: names.map((name) => ({
      name,
      created: BigInt(groups.loadedAt),
      ...(req.withInfo && { info: modelGroupInfo(groups, name) }),
      ...(fallbacksOf && { fallbacks: [...fallbacksOf(groups, name)] }),
    })),
  };
}
