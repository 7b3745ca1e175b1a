import { parseConfig } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { taggedGroup } from "../src/tag-routing.js";

// Tag-based routing (router_settings.enable_tag_filtering): which of a
// group's deployments a request's tags may use.

function groupOf(entries: [id: string, tags: string][]) {
  const list = entries.map(([id, tags]) => `  - { model_name: m, litellm_params: { model: openai/${id}, api_base: "http://x/v1"${tags ? `, tags: [${tags}]` : ""}${id === "fast" ? ", order: 1" : id === "slow" ? ", order: 2" : ""} }, model_info: { id: ${id} } }`);
  return ModelGroups.fromConfig(parseConfig(`model_list:\n${list.join("\n")}\n`), SUPPORTED_PROVIDERS).resolve("m")!;
}
const ids = (group: ReturnType<typeof taggedGroup>) => group?.deployments.map((d) => d.id);

describe("tag-based routing", () => {
  const group = groupOf([
    ["free", "free"],
    ["paid", "paid, eu"],
    ["house", "default"],
    ["plain", ""],
  ]);

  it("sends a request with tags to the deployments that carry any of them", () => {
    expect(ids(taggedGroup(group, ["free"]))).toEqual(["free"]);
    expect(ids(taggedGroup(group, ["eu", "free"]))).toEqual(["free", "paid"]);
    expect(taggedGroup(group, ["gpu"])).toBeUndefined();
  });

  it("sends a request without tags to the default deployments, or to any when none is", () => {
    expect(ids(taggedGroup(group, []))).toEqual(["house"]);
    const untagged = groupOf([
      ["a", "free"],
      ["b", ""],
    ]);
    expect(taggedGroup(untagged, [])).toBe(untagged);
  });

  it("picks first from the lowest order among the deployments left", () => {
    const ordered = groupOf([
      ["fast", "team-a"],
      ["slow", "team-b"],
    ]);
    expect(ordered.firstChoice.map((d) => d.id)).toEqual(["fast"]);
    expect(taggedGroup(ordered, ["team-b"])?.firstChoice.map((d) => d.id)).toEqual(["slow"]);
  });
});
