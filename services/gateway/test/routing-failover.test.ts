import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI, { type APIError } from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY } from "./support/config.js";
import { ask, deployment, routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";

// Retries, cooldowns and fallbacks against several fake providers; and
// what happens when a stream breaks after bytes reached the client.

let flakyA: FakeProvider;
let flakyB: FakeProvider;
let solo: FakeProvider;
let chain: FakeProvider;
let spare: FakeProvider;

const chainModel = (m: string) => `model: openai/${m}, api_base: "${chain.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY`;

beforeAll(async () => {
  [flakyA, flakyB, solo, chain, spare] = await Promise.all([startFakeProvider(), startFakeProvider(), startFakeProvider(), startFakeProvider(), startFakeProvider()]);
});

afterAll(async () => {
  for (const p of [flakyA, flakyB, solo, chain, spare]) await p?.close();
});

beforeEach(() => {
  for (const p of [flakyA, flakyB, solo, chain, spare]) {
    p.requests.length = 0;
    Object.assign(p.behavior, { failNext: 0, failStatus: 500, retryAfterSeconds: undefined, breakStreamAfterChunks: undefined });
  }
});

describe.each(["one process", "split"] as const)("%s", (mode) => {
  let gw: RoutingGateway;

  beforeAll(async () => {
    const chained = [
      ["chain-first", "model-first", "first-1"],
      ["chain-second", "model-second", "second-1"],
      ["chain-third", "model-third", "third-1"],
      ["orphan", "model-orphan", "orphan-1"],
    ]
      .map(([group, model, id]) => `  - { model_name: ${group}, litellm_params: { ${chainModel(model!)} }, model_info: { id: ${id} } }\n`)
      .join("");
    const settings = [
      "litellm_settings:",
      "  fallbacks: [{ chain-first: [chain-second, chain-third] }, { streamy: [safe] }]",
      "router_settings:",
      "  num_retries: 1",
      "  allowed_fails: 1",
      "  cooldown_time: 2",
      "  default_fallbacks: [safe]",
    ].join("\n");
    gw = await startRoutingGateway(
      routingYaml(
        deployment("flaky", "flaky-a", flakyA) +
          deployment("flaky", "flaky-b", flakyB) +
          deployment("solo", "solo-1", solo) +
          chained +
          deployment("streamy", "streamy-1", solo, "", "input_cost_per_token: 0, output_cost_per_token: 0.001") +
          deployment("safe", "safe-1", spare),
        settings,
      ),
      mode,
    );
  });

  afterAll(() => gw?.close());

  describe("retries", () => {
    it("retries a failed deployment after a pause and says so in x-litellm-attempted-retries", async () => {
      Object.assign(solo.behavior, { failNext: 1, failStatus: 503 });
      const { data, headers } = await ask(gw.client, "solo", "again");
      expect(data.choices[0]?.message.content).toBe("Echo: again");
      expect(solo.requests).toHaveLength(2);
      expect(headers.get("x-litellm-attempted-retries")).toBe("1");
      expect(headers.get("x-litellm-attempted-fallbacks")).toBe("0");
      expect(headers.get("x-litellm-model-group")).toBe("solo");
    });

    it("waits at least as long as the provider's retry-after before retrying", async () => {
      Object.assign(solo.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 1 });
      const started = Date.now();
      const { headers } = await ask(gw.client, "solo");
      // The requirement is a lower bound: the provider asked for a second.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(solo.requests).toHaveLength(2);
      expect(headers.get("x-litellm-attempted-retries")).toBe("1");
    });

    it("does not retry a request the provider refused as invalid", async () => {
      Object.assign(solo.behavior, { failNext: 1, failStatus: 400 });
      await expect(ask(gw.client, "solo")).rejects.toMatchObject({ status: 400 });
      expect(solo.requests).toHaveLength(1);
    });
  });

  describe("cooldowns", () => {
    it("cools down a deployment after more than allowed_fails failures, skips it meanwhile, and takes it back after cooldown_time", async () => {
      flakyA.behavior.failNext = 1_000;
      // Until a has failed twice, requests that land on it are retried at once on b.
      for (let i = 0; i < 100 && flakyA.requests.length < 2; i++) {
        const { headers } = await ask(gw.client, "flaky");
        expect(headers.get("x-litellm-model-id")).toBe("flaky-b");
      }
      expect(flakyA.requests).toHaveLength(2);
      for (let i = 0; i < 10; i++) {
        const { headers } = await ask(gw.client, "flaky");
        expect(headers.get("x-litellm-model-id")).toBe("flaky-b");
        expect(headers.get("x-litellm-attempted-retries")).toBe("0");
      }
      expect(flakyA.requests).toHaveLength(2);
      flakyA.behavior.failNext = 0;
      await eventually(
        "the cooled-down deployment to answer again",
        async () => ((await ask(gw.client, "flaky")).headers.get("x-litellm-model-id") === "flaky-a" ? true : undefined),
      );
    });

    it("refuses a body nested too deeply to pass on as the client's error: no provider called, nothing cooled down", async () => {
      // JSON.parse takes this; writing it back for the provider overflows JSON.stringify's recursion.
      const deep = `{"model":"flaky","messages":[{"role":"user","content":"hi"}],"x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
      const refusals = await Promise.all(
        Array.from({ length: 6 }, () =>
          fetch(`${gw.baseUrl}/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" }, body: deep }),
        ),
      );
      for (const res of refusals) {
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", message: "request body is nested too deeply" } });
      }
      expect([...flakyA.requests, ...flakyB.requests, ...spare.requests]).toHaveLength(0);
      // With allowed_fails 1, six failures blamed on the group's deployments would have cooled both down.
      const seen = new Set<string | null>();
      for (let i = 0; i < 20 && seen.size < 2; i++) seen.add((await ask(gw.client, "flaky")).headers.get("x-litellm-model-id"));
      expect(seen).toEqual(new Set(["flaky-a", "flaky-b"]));
    });
  });

  describe("fallbacks", () => {
    it("walks the fallback chain in order (litellm_settings.fallbacks) and names the group that answered", async () => {
      // Each of the first two groups fails its attempt and its retry.
      chain.behavior.failNext = 4;
      const { data, headers } = await ask(gw.client, "chain-first", "fall");
      expect(data.choices[0]?.message.content).toBe("Echo: fall");
      const models = chain.requests.map((r) => (r.body as { model: string }).model);
      expect(models).toEqual(["model-first", "model-first", "model-second", "model-second", "model-third"]);
      expect(headers.get("x-litellm-model-group")).toBe("chain-third");
      expect(headers.get("x-litellm-model-id")).toBe("third-1");
      expect(headers.get("x-litellm-attempted-fallbacks")).toBe("2");
      expect(headers.get("x-litellm-attempted-retries")).toBe("0");
      // The ledger books the spend under the group that answered, as LiteLLM's spend logs do, and keeps what was asked.
      const row = await gw.spendLog(headers.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ model_group: "chain-third", model_id: "third-1", metadata: { original_model_group: "chain-first", attempted_fallbacks: 2 } });
    });

    it("falls back to default_fallbacks for a group without fallbacks of its own", async () => {
      chain.behavior.failNext = 2;
      const { headers } = await ask(gw.client, "orphan");
      expect(headers.get("x-litellm-model-group")).toBe("safe");
      expect(spare.requests).toHaveLength(1);
    });

    it("gives the last group's error when every fallback fails", async () => {
      Object.assign(chain.behavior, { failNext: 100, failStatus: 503 });
      const failed = await ask(gw.client, "chain-first").catch((err: unknown) => err as APIError);
      expect(failed).toMatchObject({ status: 503 });
      expect(chain.requests).toHaveLength(6);
      chain.behavior.failNext = 0;
      const row = await gw.spendLog(failed.headers!.get("x-litellm-call-id")!);
      expect(row).toMatchObject({ status: "failure", model_group: "chain-third", metadata: { original_model_group: "chain-first", attempted_fallbacks: 2 } });
    });
  });

  describe("a stream that breaks after its first bytes", () => {
    async function brokenStream(apiKey: string) {
      solo.behavior.breakStreamAfterChunks = 2;
      const res = await fetch(`${gw.baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "streamy", stream: true, max_tokens: 50, messages: [{ role: "user", content: "one two three four five six" }] }),
      });
      expect(res.status).toBe(200);
      return { body: await res.text(), requestId: res.headers.get("x-litellm-call-id")! };
    }

    it("ends with an error event, never [DONE], is not retried elsewhere, and is a failed ledger row carrying the usage seen", async () => {
      const { body, requestId } = await brokenStream(MASTER_KEY);
      expect(body).toContain("Echo:");
      expect(body).toContain('"error"');
      expect(body).not.toContain("[DONE]");
      expect(spare.requests).toHaveLength(0);
      expect(solo.requests).toHaveLength(1);
      const row = await gw.spendLog(requestId);
      expect(row["status"]).toBe("failure");
      expect(row["completion_tokens"]).toBeGreaterThan(0);
      expect(row["spend"]).toBeGreaterThan(0);
    });

    it("charges a budgeted key what the broken stream used, so its budget holds", async () => {
      // The same broken stream on the master key tells what one costs.
      const probe = await brokenStream(MASTER_KEY);
      const cost = (await gw.spendLog(probe.requestId))["spend"] as number;
      // A request reserves max_tokens at $0.001 (prompts are free here): $0.05. With
      // half a broken stream's cost to spare, a second request fits only if the
      // first was settled at nothing.
      const reservation = 50 * 0.001;
      const created = await admin<GeneratedKey>(gw.baseUrl, "POST", "/key/generate", { max_budget: reservation + cost / 2 });
      expect(created.status).toBe(200);
      const { requestId } = await brokenStream(created.json.key);
      const row = await gw.spendLog(requestId);
      expect(row["spend"]).toBeCloseTo(cost, 12);
      const client = new OpenAI({ baseURL: `${gw.baseUrl}/v1`, apiKey: created.json.key, maxRetries: 0 });
      await expect(client.chat.completions.create({ model: "streamy", max_tokens: 50, messages: [{ role: "user", content: "more" }] })).rejects.toMatchObject({
        status: 400,
        type: "budget_exceeded",
      });
      const info = await admin<{ info: { spend: number } }>(gw.baseUrl, "GET", `/key/info?key=${created.json.key}`);
      expect(info.json.info.spend).toBeGreaterThan(0);
      expect(info.json.info.spend).toBeCloseTo(row["spend"] as number, 12);
    });
  });
});

describe("with LiteLLM's defaults (no router_settings)", () => {
  let gw: RoutingGateway;

  beforeAll(async () => {
    // One deployment of the group is down for good (nothing listens on port 9).
    const down = `  - { model_name: pair, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9/v1", api_key: os.environ/FAKE_PROVIDER_KEY }, model_info: { id: pair-down } }\n`;
    gw = await startRoutingGateway(routingYaml(down + deployment("pair", "pair-up", spare)));
  });

  afterAll(() => gw?.close());

  it("fails over to the deployment that is up: every request answers, none sees the one that is down", async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => ask(gw.client, "pair", `n${i}`)));
    for (const [i, { data, headers }] of answers.entries()) {
      expect(data.choices[0]?.message.content).toBe(`Echo: n${i}`);
      expect(headers.get("x-litellm-model-id")).toBe("pair-up");
    }
  });
});
