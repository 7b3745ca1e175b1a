import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, parseConfig } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { Cooldowns } from "../src/cooldowns.js";
import { DeploymentStats } from "../src/deployment-stats.js";
import type { CallEvent, Outcome } from "../src/outcome.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { routeCall, type RoutingState } from "../src/routing.js";
import { simpleShuffle } from "../src/strategies/simple-shuffle.js";
import { routedCall } from "./support/routed-call.js";

// A stream's timeout bounds each wait for the provider's next part. A client
// that reads slowly holds the stream back (the router stops reading the
// provider until it reads on): that wait is the client's, and the provider,
// which sent on in time, must not be cut off for it.

describe("a stream's timeout", () => {
  let provider: FakeProvider;

  beforeAll(async () => {
    provider = await startFakeProvider();
  });
  afterAll(() => provider.close());

  it("does not count the time its reader takes over an event", async () => {
    // Twelve chunks 40 ms apart, against a 0.3 s timeout: the provider never keeps the stream waiting.
    provider.behavior.chunkDelayMs = 40;
    const groups = ModelGroups.fromConfig(
      parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/x, api_base: "${provider.url}/v1", api_key: k, stream_timeout: 0.3 } }\n`),
      SUPPORTED_PROVIDERS,
    );
    const state: RoutingState = { cooldowns: new Cooldowns(), stats: new DeploymentStats(), logger: createLogger("test", "silent") };
    const outcome: Outcome = { deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined };
    const body = { model: "m", stream: true, messages: [{ role: "user", content: "one two three four five six seven eight nine" }] };
    const call = routedCall("slow-reader", { groups, strategy: simpleShuffle, limits: undefined }, body);
    const answer = (await routeCall(call, "m", outcome, state)) as AsyncIterable<CallEvent>;
    const cases: string[] = [];
    let first = true;
    for await (const { event } of answer) {
      cases.push(event.case ?? "");
      if (event.case !== "chunk" || !first) continue;
      first = false;
      // The client reads nothing for longer than the timeout, while the provider sends on.
      await sleep(900);
    }
    expect(cases.at(-1)).toBe("finished");
    expect(cases.filter((c) => c === "chunk").length).toBeGreaterThan(10);
  });
});
