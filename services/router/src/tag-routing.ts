import { Code } from "@connectrpc/connect";
import { gatewayError } from "@gateway/common";
import type { Deployment } from "./config/deployment.js";
import { modelGroup, type ModelGroup } from "./config/model-groups.js";

// Tag-based routing (router_settings.enable_tag_filtering), as LiteLLM's:
// a request with tags goes to the group's deployments that carry any of them
// (litellm_params.tags); one without goes to those tagged "default", or to
// any when none is.
const DEFAULT_TAG = "default";

const carries = (d: Deployment, tags: readonly string[]) => d.tags !== undefined && d.tags.some((tag) => tags.includes(tag));

/** The part of `group` a request with these tags may use; undefined when no deployment of it may answer. */
export function taggedGroup(group: ModelGroup, tags: readonly string[]): ModelGroup | undefined {
  let usable: readonly Deployment[];
  if (tags.length > 0) usable = group.deployments.filter((d) => carries(d, tags));
  else {
    const defaults = group.deployments.filter((d) => d.tags?.includes(DEFAULT_TAG));
    usable = defaults.length > 0 ? defaults : group.deployments;
  }
  if (usable.length === 0) return undefined;
  return usable.length === group.deployments.length ? group : modelGroup(group.name, usable);
}

/** The refusal of a request whose tags no deployment of the group it asked for carries. */
export function noTaggedDeployment(requested: string, tags: readonly string[]): Error {
  return gatewayError(`no deployment of model ${requested} carries any of the request's tags (${tags.join(", ")}); tag-based routing is on (router_settings.enable_tag_filtering)`, Code.InvalidArgument, {
    type: "invalid_request_error",
    param: "tags",
    code: "no_deployments_with_tag_routing",
  });
}
