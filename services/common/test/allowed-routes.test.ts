import { describe, expect, it } from "vitest";
import { isRouteSpec, routeAllowed } from "../src/index.js";

// LiteLLM's allowed_routes: paths, prefixes ending in "*", and route groups.

describe("allowed_routes", () => {
  it("let every route through when empty", () => {
    expect(routeAllowed([], "/key/generate")).toBe(true);
  });

  it("match paths with or without /v1, and prefixes", () => {
    expect(routeAllowed(["/v1/embeddings"], "/embeddings")).toBe(true);
    expect(routeAllowed(["/embeddings"], "/v1/embeddings")).toBe(true);
    expect(routeAllowed(["/v1/embeddings"], "/v1/chat/completions")).toBe(false);
    expect(routeAllowed(["/key/*"], "/key/info")).toBe(true);
    expect(routeAllowed(["/key/*"], "/team/info")).toBe(false);
    expect(routeAllowed(["/key/info"], "/key/info/extra")).toBe(false);
  });

  it("read LiteLLM's route groups", () => {
    expect(routeAllowed(["llm_api_routes"], "/v1/chat/completions")).toBe(true);
    expect(routeAllowed(["llm_api_routes"], "/v1/models/fast-model")).toBe(true);
    expect(routeAllowed(["llm_api_routes"], "/key/generate")).toBe(false);
    expect(routeAllowed(["info_routes"], "/key/info")).toBe(true);
    expect(routeAllowed(["info_routes"], "/key/generate")).toBe(false);
    expect(routeAllowed(["management_routes"], "/key/generate")).toBe(true);
    expect(routeAllowed(["management_routes"], "/organization/member_add")).toBe(true);
    expect(routeAllowed(["info_routes"], "/organization/list")).toBe(true);
    expect(routeAllowed(["info_routes"], "/organization/new")).toBe(false);
    expect(routeAllowed(["spend_tracking_routes"], "/global/spend/report")).toBe(true);
    expect(routeAllowed(["spend_tracking_routes"], "/global/all_end_users")).toBe(true);
    expect(routeAllowed(["info_routes"], "/v2/key/info")).toBe(true);
    expect(routeAllowed(["management_routes"], "/v2/key/info")).toBe(true);
    expect(routeAllowed(["spend_tracking_routes"], "/tag/daily/activity/aggregated")).toBe(true);
    expect(routeAllowed(["spend_tracking_routes", "/v1/embeddings"], "/embeddings")).toBe(true);
  });

  it("take paths and group names only", () => {
    expect(isRouteSpec("/v1/chat/completions")).toBe(true);
    expect(isRouteSpec("llm_api_routes")).toBe(true);
    expect(isRouteSpec("chat")).toBe(false);
    expect(isRouteSpec("toString")).toBe(false);
  });
});
