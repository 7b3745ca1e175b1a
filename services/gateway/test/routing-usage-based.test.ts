import { setTimeout as sleep } from "node:timers/promises";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MASTER_KEY } from "./support/config.js";
import { deployment, routingYaml, startReplicaPair } from "./support/routing.js";

// usage-based-routing on two router replicas sharing Postgres: each
// deployment's rpm holds across both.

const RPM = 4;

let a: FakeProvider;
let b: FakeProvider;
let pair: Awaited<ReturnType<typeof startReplicaPair>>;

beforeAll(async () => {
  [a, b] = [await startFakeProvider(), await startFakeProvider()];
  pair = await startReplicaPair(
    routingYaml(
      deployment("limited", "limited-a", a, `rpm: ${RPM}`) + deployment("limited", "limited-b", b, `rpm: ${RPM}`),
      "router_settings:\n  routing_strategy: usage-based-routing\n",
    ),
  );
});

afterAll(async () => {
  await pair?.close();
  await a?.close();
  await b?.close();
});

describe("usage-based-routing across two router replicas", () => {
  it("serves no deployment more than its rpm in a minute, whichever replica asks, then refuses with 429", async () => {
    // Limits count per clock minute: start early in one, so the whole burst falls inside it.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await sleep(60_000 - intoMinute + 100);
    const statuses: number[] = [];
    for (let i = 0; i < 2 * RPM + 3; i++) {
      const client = new OpenAI({ baseURL: `${pair.urls[i % 2]}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      const status = await client.chat.completions.create({ model: "limited", messages: [{ role: "user", content: "count me" }] }).then(
        () => 200,
        (err: { status?: number }) => err.status ?? 0,
      );
      statuses.push(status);
    }
    expect(a.requests).toHaveLength(RPM);
    expect(b.requests).toHaveLength(RPM);
    expect(statuses.slice(0, 2 * RPM)).toEqual(Array(2 * RPM).fill(200));
    expect(statuses.slice(2 * RPM)).toEqual([429, 429, 429]);
  });
});
