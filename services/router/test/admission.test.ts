import { createLogger, parseConfig } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { Cooldowns } from "../src/cooldowns.js";
import type { DeploymentLimits } from "../src/deployment-limits.js";
import { DeploymentStats } from "../src/deployment-stats.js";
import type { Outcome } from "../src/outcome.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { routeCall, type RoutingState } from "../src/routing.js";
import { simpleShuffle } from "../src/strategies/simple-shuffle.js";
import { routedCall } from "./support/routed-call.js";

// A call is counted in flight on a deployment when it is admitted there, and
// counted out when its attempt ends; one whose admission fails on the way
// (the shared limits' database unreachable, say) must not stay counted, or a
// deployment with max_parallel_requests would fill up with calls that never ran.

describe("admission to a deployment", () => {
  let provider: FakeProvider;

  beforeAll(async () => {
    provider = await startFakeProvider();
  });
  afterAll(() => provider.close());

  it("counts nothing in flight for a call whose reservation threw", async () => {
    const groups = ModelGroups.fromConfig(
      parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_base: "${provider.url}/v1", api_key: k, max_parallel_requests: 1 }, model_info: { id: d-1 } }\n`),
      SUPPORTED_PROVIDERS,
    );
    const state: RoutingState = { cooldowns: new Cooldowns(), stats: new DeploymentStats(), logger: createLogger("test", "silent") };
    let unreachable = true;
    // What SharedDeploymentLimits does when Postgres cannot be reached: its admit throws.
    const limits: DeploymentLimits = {
      admit: async () => {
        if (unreachable) throw new Error("connect ECONNREFUSED");
        return true;
      },
      settle: () => {},
      tokensUsed: () => 0,
    };
    const outcome = (): Outcome => ({ deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined });
    const call = routedCall("admission", { groups, strategy: simpleShuffle, limits }, { model: "m", messages: [{ role: "user", content: "hi" }] });
    await expect(routeCall(call, "m", outcome(), state)).rejects.toThrow("ECONNREFUSED");
    expect(state.stats.inFlight("d-1")).toBe(0);
    unreachable = false;
    await routeCall(call, "m", outcome(), state);
    expect(state.stats.inFlight("d-1")).toBe(0);
  });

  it("settles a call by when its admission began, so a minute turning during the admission keeps its unused tokens out of the next minute", async () => {
    const groups = ModelGroups.fromConfig(
      parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_base: "${provider.url}/v1", api_key: k, tpm: 1000 }, model_info: { id: d-1 } }\n`),
      SUPPORTED_PROVIDERS,
    );
    const state: RoutingState = { cooldowns: new Cooldowns(), stats: new DeploymentStats(), logger: createLogger("test", "silent") };
    let askedAt = 0;
    const settledWith: number[] = [];
    // An admission that waits on the store, as SharedDeploymentLimits' does when it must take more.
    const limits: DeploymentLimits = {
      admit: async () => {
        askedAt = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 20));
        return true;
      },
      settle: (_d, _reserved, _used, admittedAt) => settledWith.push(admittedAt),
      tokensUsed: () => 0,
    };
    const outcome: Outcome = { deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined };
    const call = routedCall("admitted-at", { groups, strategy: simpleShuffle, limits }, { model: "m", messages: [{ role: "user", content: "hi" }] });
    await routeCall(call, "m", outcome, state);
    expect(settledWith).toHaveLength(1);
    expect(settledWith[0]).toBeGreaterThan(0);
    expect(settledWith[0]).toBeLessThanOrEqual(askedAt);
  });
});
