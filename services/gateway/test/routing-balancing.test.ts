import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openChatStream } from "./support/sse.js";
import { ask, deployment, routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";

// Load balancing within a model group, against two fake providers, one
// strategy per gateway.

let a: FakeProvider;
let b: FakeProvider;

beforeAll(async () => {
  [a, b] = [await startFakeProvider(), await startFakeProvider()];
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

afterEach(() => {
  for (const p of [a, b]) {
    p.requests.length = 0;
    Object.assign(p.behavior, { latencyMs: 0, chunkDelayMs: 0 });
  }
});

const chats = (p: FakeProvider) => p.requests.filter((r) => r.path === "/v1/chat/completions").length;

describe("simple-shuffle", () => {
  let gw: RoutingGateway;
  beforeAll(async () => {
    gw = await startRoutingGateway(
      routingYaml(
        deployment("weighted", "light", a, "weight: 1") +
          deployment("weighted", "heavy", b, "weight: 3") +
          deployment("by-rpm", "rpm-a", a, "rpm: 100") +
          deployment("by-rpm", "rpm-b", b, "rpm: 900") +
          `  - { model_name: "openai/*", litellm_params: { model: "openai/*", api_base: "${b.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY }, model_info: { id: any-openai } }\n`,
      ),
    );
  });
  afterAll(() => gw?.close());

  it("answers a wildcard group with the model the client named", async () => {
    const { headers } = await ask(gw.client, "openai/gpt-4.1-mini");
    expect((b.requests.at(-1)?.body as { model: string }).model).toBe("gpt-4.1-mini");
    expect(headers.get("x-litellm-model-id")).toBe("any-openai");
    expect(headers.get("x-litellm-model-group")).toBe("openai/gpt-4.1-mini");
  });

  it("spreads a group's requests by weight, and names the deployment that answered", async () => {
    const n = 1000;
    const ids: string[] = [];
    for (let i = 0; i < n; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => ask(gw.client, "weighted")));
      ids.push(...batch.map((r) => r.headers.get("x-litellm-model-id") ?? ""));
    }
    // Expected share 1/4; the binomial standard deviation at n = 1000 is 0.0137, so 0.06 is over four of them.
    expect(Math.abs(chats(a) / n - 0.25)).toBeLessThan(0.06);
    expect(chats(a) + chats(b)).toBe(n);
    expect(ids.filter((id) => id === "light")).toHaveLength(chats(a));
    expect(ids.filter((id) => id === "heavy")).toHaveLength(chats(b));
  });

  it("weighs by rpm when no deployment sets a weight", async () => {
    const n = 800;
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => ask(gw.client, "by-rpm")));
    // Expected share 1/10 on a; the standard deviation is 0.0106, so 0.05 is over four of them
    // (at n = 400, a run in a thousand failed).
    expect(Math.abs(chats(a) / n - 0.1)).toBeLessThan(0.05);
  });
});

describe("least-busy", () => {
  let gw: RoutingGateway;
  beforeAll(async () => {
    gw = await startRoutingGateway(
      routingYaml(deployment("fast-model", "busy-a", a) + deployment("fast-model", "busy-b", b), "router_settings:\n  routing_strategy: least-busy\n"),
    );
  });
  afterAll(() => gw?.close());

  it("sends nothing new to a deployment while it holds the only call in flight", async () => {
    a.behavior.chunkDelayMs = 150;
    b.behavior.chunkDelayMs = 150;
    const stream = await openChatStream(gw.baseUrl, "one two three four five six seven eight");
    await stream.firstEvent;
    const streaming = a.requests.length === 1 ? a : b;
    const other = streaming === a ? b : a;
    for (let i = 0; i < 10; i++) await ask(gw.client, "fast-model");
    const { text, broken } = await stream.finished;
    expect(broken).toBe(false);
    expect(text).toContain("[DONE]");
    // Random picks would send all ten to the idle deployment once in 1024 runs.
    expect(streaming.requests).toHaveLength(1);
    expect(other.requests).toHaveLength(10);
  });

  it("splits concurrent requests evenly", async () => {
    a.behavior.latencyMs = 400;
    b.behavior.latencyMs = 400;
    await Promise.all(Array.from({ length: 20 }, () => ask(gw.client, "fast-model")));
    // Uniform random picks would split 20 exactly evenly about one run in six.
    expect(chats(a)).toBe(10);
    expect(chats(b)).toBe(10);
  });
});

describe("latency-based-routing", () => {
  let gw: RoutingGateway;
  beforeAll(async () => {
    gw = await startRoutingGateway(
      routingYaml(deployment("fast-model", "quick", a) + deployment("fast-model", "slow", b), "router_settings:\n  routing_strategy: latency-based-routing\n"),
    );
  });
  afterAll(() => gw?.close());

  it("tries each deployment once, then keeps to the one that answers fastest", async () => {
    b.behavior.latencyMs = 200;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await ask(gw.client, "fast-model")).headers.get("x-litellm-model-id") ?? "");
    expect(chats(b)).toBe(1);
    expect(ids.slice(2)).toEqual(Array(10).fill("quick"));
  });
});
