import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ask, deployment, routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";

// LiteLLM's retry_policy, model_group_retry_policy and allowed_fails_policy
// (router_settings, and a deployment's model_info): retries and cooldowns
// per kind of failure, against fake providers that fail on demand.

let solo: FakeProvider;
let own: FakeProvider;
let pairA: FakeProvider;
let pairB: FakeProvider;
let strict: FakeProvider;
let lenient: FakeProvider;

beforeAll(async () => {
  [solo, own, pairA, pairB, strict, lenient] = await Promise.all([startFakeProvider(), startFakeProvider(), startFakeProvider(), startFakeProvider(), startFakeProvider(), startFakeProvider()]);
});

afterAll(async () => {
  for (const p of [solo, own, pairA, pairB, strict, lenient]) await p?.close();
});

beforeEach(() => {
  for (const p of [solo, own, pairA, pairB, strict, lenient]) {
    p.requests.length = 0;
    Object.assign(p.behavior, { failNext: 0, failStatus: 500 });
  }
});

const SETTINGS = `router_settings:
  num_retries: 2
  allowed_fails: 3
  cooldown_time: 60
  retry_policy: { RateLimitErrorRetries: 0, BadRequestErrorRetries: 1 }
  model_group_retry_policy: { own-policy: { InternalServerErrorRetries: 0 } }
  allowed_fails_policy: { RateLimitErrorAllowedFails: 0 }
`;

describe.each(["one process", "split"] as const)("%s", (mode) => {
  let gw: RoutingGateway;

  beforeAll(async () => {
    const entries =
      deployment("solo", "solo-1", solo) +
      deployment("own-policy", "own-1", own) +
      deployment("pair", "pair-a", pairA) +
      deployment("pair", "pair-b", pairB) +
      deployment("strict", "strict-1", strict, "", "allowed_fails_policy: { InternalServerErrorAllowedFails: 0 }") +
      deployment("strict", "lenient-1", lenient);
    gw = await startRoutingGateway(routingYaml(entries, SETTINGS), mode);
  });

  afterAll(() => gw?.close());

  it("retries a kind of failure as often as retry_policy says, in place of num_retries", async () => {
    // num_retries (2) would retry a 429; the policy's 0 passes it on at once.
    Object.assign(solo.behavior, { failNext: 1, failStatus: 429 });
    await expect(ask(gw.client, "solo")).rejects.toMatchObject({ status: 429 });
    expect(solo.requests).toHaveLength(1);
    // A 400 is never retried by num_retries; the policy's 1 retries it once.
    Object.assign(solo.behavior, { failNext: 1, failStatus: 400 });
    const { data, headers } = await ask(gw.client, "solo", "second try");
    expect(data.choices[0]?.message.content).toBe("Echo: second try");
    expect(solo.requests).toHaveLength(3);
    expect(headers.get("x-litellm-attempted-retries")).toBe("1");
    // The policy names no 500s: num_retries retries them.
    Object.assign(solo.behavior, { failNext: 2, failStatus: 500 });
    await ask(gw.client, "solo");
    expect(solo.requests).toHaveLength(6);
  });

  it("takes a model group's own retry policy whole, in place of retry_policy", async () => {
    Object.assign(own.behavior, { failNext: 1, failStatus: 500 });
    await expect(ask(gw.client, "own-policy")).rejects.toMatchObject({ status: 502 });
    expect(own.requests).toHaveLength(1);
    // retry_policy's RateLimitErrorRetries does not reach this group: num_retries does.
    Object.assign(own.behavior, { failNext: 1, failStatus: 429 });
    await ask(gw.client, "own-policy");
    expect(own.requests).toHaveLength(3);
  });

  it("cools a deployment down after as many failures of a kind as allowed_fails_policy allows", async () => {
    Object.assign(pairA.behavior, { failNext: 1_000, failStatus: 429 });
    // Requests land on either; the first 429 on a (not retried, by the policy) cools it down, where allowed_fails would allow three.
    for (let i = 0; i < 100 && pairA.requests.length === 0; i++) {
      const answer = await ask(gw.client, "pair").catch((err: { status?: number }) => err);
      if (pairA.requests.length === 0) expect(answer).toHaveProperty("data");
      else expect(answer).toMatchObject({ status: 429 });
    }
    expect(pairA.requests).toHaveLength(1);
    for (let i = 0; i < 10; i++) expect((await ask(gw.client, "pair")).headers.get("x-litellm-model-id")).toBe("pair-b");
    expect(pairA.requests).toHaveLength(1);
  });

  it("takes a deployment's own allowed_fails_policy (model_info) in place of the router's", async () => {
    Object.assign(strict.behavior, { failNext: 1_000, failStatus: 500 });
    Object.assign(lenient.behavior, { failNext: 1_000, failStatus: 500 });
    // A 500 is retried elsewhere at once: each request tries both deployments until one cools down.
    await expect(ask(gw.client, "strict")).rejects.toMatchObject({ status: 502 });
    expect(strict.requests.length).toBeGreaterThan(0);
    expect(lenient.requests.length).toBeGreaterThan(0);
    // Its own policy cooled strict-1 after one 500; lenient-1 has allowed_fails' three.
    Object.assign(lenient.behavior, { failNext: 0 });
    const before = strict.requests.length;
    for (let i = 0; i < 10; i++) expect((await ask(gw.client, "strict")).headers.get("x-litellm-model-id")).toBe("lenient-1");
    expect(strict.requests).toHaveLength(before);
  });
});
