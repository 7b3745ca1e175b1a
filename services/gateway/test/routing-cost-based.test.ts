import { setTimeout as sleep } from "node:timers/promises";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MASTER_KEY } from "./support/config.js";
import { deployment, routingYaml, startReplicaPair } from "./support/routing.js";

// cost-based-routing on two router replicas sharing Postgres: the cheapest
// deployment takes the traffic up to its rpm (held across both), then the
// next cheapest; the one with no known price is never reached.

const RPM = 4;
const REQUESTS = 12;

let cheap: FakeProvider;
let dear: FakeProvider;
let unpriced: FakeProvider;
let pair: Awaited<ReturnType<typeof startReplicaPair>>;

beforeAll(async () => {
  [cheap, dear, unpriced] = [await startFakeProvider(), await startFakeProvider(), await startFakeProvider()];
  const unknownModel = deployment("thrifty", "unpriced", unpriced).replace("openai/gpt-4o-mini", "openai/my-local-llm");
  pair = await startReplicaPair(
    routingYaml(
      unknownModel +
        deployment("thrifty", "dear", dear, "", "input_cost_per_token: 0.00001, output_cost_per_token: 0.00003") +
        deployment("thrifty", "cheap", cheap, `rpm: ${RPM}`, "input_cost_per_token: 0.0000001, output_cost_per_token: 0.0000004"),
      "router_settings:\n  routing_strategy: cost-based-routing\n",
    ),
  );
});

afterAll(async () => {
  await pair?.close();
  await cheap?.close();
  await dear?.close();
  await unpriced?.close();
});

describe("cost-based-routing across two router replicas", () => {
  it("sends concurrent requests to the cheapest deployment up to its rpm, the rest to the next cheapest", async () => {
    // Limits count per clock minute: start early in one, so the whole burst falls inside it.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
    const answers = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        new OpenAI({ baseURL: `${pair.urls[i % 2]}/v1`, apiKey: MASTER_KEY, maxRetries: 0 }).chat.completions.create({
          model: "thrifty",
          messages: [{ role: "user", content: `request ${i}` }],
        }),
      ),
    );
    expect(answers).toHaveLength(REQUESTS);
    expect(cheap.requests).toHaveLength(RPM);
    expect(dear.requests).toHaveLength(REQUESTS - RPM);
    expect(unpriced.requests).toHaveLength(0);
  });
});
