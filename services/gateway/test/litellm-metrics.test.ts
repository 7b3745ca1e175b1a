import type { FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import parsePrometheusTextFormat, { type MetricFamily } from "parse-prometheus-text-format";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// LiteLLM's Prometheus metrics (litellm_settings.callbacks: ["prometheus"])
// by its names and labels, for a key of a team with aliases, driven with the
// official client in one process and split (the team's alias crosses the
// services with the call).
function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: fast-1 }
  - model_name: flaky-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: flaky-a }
  - model_name: flaky-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: flaky-b }
  - model_name: unreachable-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: http://127.0.0.1:1/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: unreachable-1 }
router_settings:
  allowed_fails: 0
  cooldown_time: 60
  fallbacks: [{ unreachable-model: [fast-model] }]
litellm_settings:
  num_retries: 0
  callbacks: ["prometheus"]
general_settings:
  master_key: ${MASTER_KEY}
`);
}

async function scrape(gateway: ModeGateway): Promise<MetricFamily[]> {
  const res = await fetch(`${gateway.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusTextFormat(await res.text());
}

/** The sum of the samples of `name` whose labels include `labels`. */
function total(families: MetricFamily[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  const samples = (family?.metrics ?? []) as { labels?: Record<string, string>; value?: string }[];
  return samples.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
}

/**
 * The count and sum of the histogram `name`'s series whose labels include
 * `labels`, added up, read from the text itself (the parser above keeps a
 * histogram's buckets but not its series' labels).
 */
function observed(text: string, name: string, labels: Record<string, string>): { count: number; sum: number } {
  const found = { count: 0, sum: 0 };
  for (const line of text.split("\n")) {
    const match = /^(\w+)_(count|sum)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = Object.fromEntries([...match[3]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => series[k] === v)) found[match[2] as "count" | "sum"] += Number(match[4]);
  }
  return found;
}

for (const mode of [MODES[0]!, MODES[1]!]) {
  describe(`LiteLLM's Prometheus metrics, ${mode.name}`, () => {
    let gateway: ModeGateway;
    let provider: FakeProvider;
    fakeBehindGatewayPerTest(mode, config, (setup) => ({ gateway, provider } = setup));

    it("labels spend, tokens and requests with the key, its alias, its team and the team's alias", async () => {
      const teamId = `metrics-team-${mode.split ? "split" : "one"}`;
      await admin(gateway.baseUrl, "POST", "/team/new", { team_id: teamId, team_alias: "platform", max_budget: 5 });
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { team_id: teamId, key_alias: `cli-${teamId}`, max_budget: 10, budget_duration: "30d" });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      let spent = 0;
      let tokens = 0;
      for (const content of ["one", "two three four"]) {
        const { data, response } = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content }] }).withResponse();
        spent += Number(response.headers.get("x-litellm-response-cost"));
        tokens += data.usage!.total_tokens;
      }
      provider.behavior.failNext = 1;
      provider.behavior.failStatus = 429;
      await expect(client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "refused" }] })).rejects.toMatchObject({ status: 429 });

      const who = { hashed_api_key: key.token, api_key_alias: `cli-${teamId}`, team: teamId, team_alias: "platform" };
      await eventually("the calls to be counted", async () => {
        const families = await scrape(gateway);
        return total(families, "litellm_deployment_total_requests_total", who) === 3 ? families : undefined;
      }).then((families) => {
        expect(spent).toBeGreaterThan(0);
        expect(total(families, "litellm_spend_metric_total", { ...who, model: "gpt-4o-mini" })).toBeCloseTo(spent, 12);
        expect(total(families, "litellm_requests_metric_total", who)).toBe(2);
        expect(total(families, "litellm_total_tokens_metric_total", { ...who, requested_model: "fast-model" })).toBe(tokens);
        expect(total(families, "litellm_proxy_total_requests_metric_total", { ...who, status_code: "200" })).toBe(2);
        expect(total(families, "litellm_proxy_failed_requests_metric_total", { ...who, exception_status: "429", exception_class: "RateLimitError" })).toBe(1);
        expect(total(families, "litellm_deployment_success_responses_total", { ...who, model_id: "fast-1", api_provider: "openai", litellm_model_name: "gpt-4o-mini" })).toBe(2);
        expect(total(families, "litellm_deployment_failure_responses_total", { ...who, model_id: "fast-1", exception_status: "429" })).toBe(1);
        expect(families.find((f) => f.name === "litellm_request_total_latency_metric")?.type).toBe("HISTOGRAM");
      });
      // The budgets' gauges, as their current periods stand.
      const keyLabels = { hashed_api_key: key.token, api_key_alias: `cli-${teamId}` };
      const teamLabels = { team_id: teamId, team_alias: "platform" };
      await eventually("the budgets' gauges to hold the spend", async () => {
        const families = await scrape(gateway);
        return Math.abs(total(families, "litellm_remaining_api_key_budget_metric", keyLabels) - (10 - spent)) < 1e-9 ? families : undefined;
      }).then((families) => {
        expect(total(families, "litellm_api_key_max_budget_metric", keyLabels)).toBe(10);
        const hours = total(families, "litellm_api_key_budget_remaining_hours_metric", keyLabels);
        expect(hours).toBeGreaterThan(0);
        expect(hours).toBeLessThanOrEqual(30 * 24);
        expect(total(families, "litellm_team_max_budget_metric", teamLabels)).toBe(5);
        expect(total(families, "litellm_remaining_team_budget_metric", teamLabels)).toBeCloseTo(5 - spent, 9);
        // A team's budget for good has no reset.
        expect(total(families, "litellm_team_budget_remaining_hours_metric", teamLabels)).toBe(0);
      });
    });

    it("drops a deleted key's series, and a regenerated key's old ones, keeping the other keys'", async () => {
      const made = async (alias: string) => (await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { key_alias: `${alias}-${mode.split ? "split" : "one"}` })).json;
      const [deleted, regenerated, kept] = [await made("deleted"), await made("regenerated"), await made("kept")];
      for (const key of [deleted, regenerated, kept]) {
        const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
        await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "counted" }] });
      }
      const seriesOf = (text: string, hash: string) => text.split("\n").filter((line) => line.includes(`hashed_api_key="${hash}"`)).length;
      const scraped = async () => (await fetch(`${gateway.baseUrl}/metrics`)).text();
      const before = await eventually("each key's calls to be counted", async () => {
        const text = await scraped();
        return [deleted, regenerated, kept].every((key) => seriesOf(text, key.token) > 0) ? text : undefined;
      });
      await admin(gateway.baseUrl, "POST", "/key/delete", { keys: [deleted.key] });
      await admin(gateway.baseUrl, "POST", "/key/regenerate", { key: regenerated.key });
      // Kept, one set of series per key ever used piled up for as long as the gateway ran.
      const after = await eventually("the deleted keys' series to be dropped", async () => {
        const text = await scraped();
        return seriesOf(text, deleted.token) === 0 && seriesOf(text, regenerated.token) === 0 ? text : undefined;
      });
      expect(seriesOf(after, kept.token)).toBe(seriesOf(before, kept.token));
    });

    it("drops a deleted model's series, the gateway's own and LiteLLM's", async () => {
      const id = `runtime-${mode.split ? "split" : "one"}`;
      await admin(gateway.baseUrl, "POST", "/model/new", {
        model_name: "runtime-model",
        litellm_params: { model: "openai/gpt-4o-mini", api_base: `${provider.url}/v1`, api_key: "os.environ/FAKE_PROVIDER_KEY" },
        model_info: { id },
      });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      await eventually("the model to answer", async () => client.chat.completions.create({ model: "runtime-model", messages: [{ role: "user", content: "hi" }] }).catch(() => undefined));
      const scraped = async () => (await fetch(`${gateway.baseUrl}/metrics`)).text();
      const named = (text: string) => text.split("\n").filter((line) => line.includes(`"${id}"`));
      await eventually("the model's calls to be counted", async () => {
        const lines = named(await scraped());
        return lines.some((line) => line.startsWith("gateway_requests_total")) && lines.some((line) => line.startsWith("litellm_deployment_total_requests_total")) ? true : undefined;
      });
      await admin(gateway.baseUrl, "POST", "/model/delete", { id });
      // Kept, each deployment ever added kept its series for as long as the gateway ran.
      await eventually("the deleted model's series to be dropped", async () => (named(await scraped()).length === 0 ? true : undefined));
      expect(named(await scraped())).toEqual([]);
      expect(await scraped()).toContain('model_id="fast-1"');
    });

    it("times the provider calls: latency, a stream's first token, the gateway's overhead, per output token; and shows the provider's rate limits left", async () => {
      const alias = `timed-${mode.split ? "split" : "one"}`;
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { key_alias: alias });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      // Each call waits 40 ms for the provider's headers; the stream then 25 ms between chunks.
      provider.behavior.latencyMs = 40;
      provider.behavior.chunkDelayMs = 25;
      provider.behavior.rateLimitHeaders = { "x-ratelimit-remaining-requests": "4321", "x-ratelimit-remaining-tokens": "98765" };
      const whole = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "whole answer" }] });
      const stream = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "a streamed answer of words" }], stream: true });
      let chunks = 0;
      for await (const _ of stream) chunks++;
      expect(chunks).toBeGreaterThan(3);
      expect(whole.usage!.completion_tokens).toBeGreaterThan(0);

      const call = { hashed_api_key: key.token, api_key_alias: alias, requested_model: "fast-model", model: "gpt-4o-mini", model_id: "fast-1" };
      const text = await eventually("both calls to be timed", async () => {
        const text = await (await fetch(`${gateway.baseUrl}/metrics`)).text();
        return observed(text, "litellm_llm_api_latency_metric", call).count === 2 ? text : undefined;
      });
      const families = parsePrometheusTextFormat(text);
      // Both waited for the provider's headers; the stream for its chunks too.
      const apiSeconds = observed(text, "litellm_llm_api_latency_metric", call).sum;
      expect(apiSeconds).toBeGreaterThanOrEqual(0.08 + 0.025 * (chunks - 2));
      // Only the stream has a first token: after the provider's headers, before its last chunk.
      const { count: streams, sum: firstToken } = observed(text, "litellm_llm_api_time_to_first_token_metric", call);
      expect(streams).toBe(1);
      expect(firstToken).toBeGreaterThanOrEqual(0.04);
      expect(firstToken).toBeLessThan(apiSeconds - 0.04);
      const deploymentKey = { model_group: "fast-model", api_provider: "openai", litellm_model_name: "gpt-4o-mini", hashed_api_key: key.token, api_key_alias: alias, model_id: "fast-1" };
      expect(observed(text, "litellm_overhead_latency_metric", deploymentKey).count).toBe(2);
      expect(observed(text, "litellm_deployment_latency_per_output_token", { model_id: "fast-1", hashed_api_key: key.token }).count).toBe(2);
      expect(total(families, "litellm_remaining_requests_metric", deploymentKey)).toBe(4321);
      expect(total(families, "litellm_remaining_tokens_metric", deploymentKey)).toBe(98765);
    });

    it("counts a fallback that answered, by the group asked for, the fallback and why", async () => {
      const alias = `fallback-${mode.split ? "split" : "one"}`;
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { key_alias: alias });
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      const answer = await client.chat.completions.create({ model: "unreachable-model", messages: [{ role: "user", content: "anyone there?" }] });
      expect(answer.choices[0]!.message.content).toContain("anyone there?");
      const families = await eventually("the fallback to be counted", async () => {
        const families = await scrape(gateway);
        return total(families, "litellm_deployment_successful_fallbacks_total", { hashed_api_key: key.token }) === 1 ? families : undefined;
      });
      const series = families.find((f) => f.name === "litellm_deployment_successful_fallbacks_total")!.metrics as { labels: Record<string, string> }[];
      const labels = series.find((m) => m.labels["hashed_api_key"] === key.token)!.labels;
      expect(labels).toMatchObject({ requested_model: "unreachable-model", fallback_model: "fast-model", api_key_alias: alias });
      expect(Number(labels["exception_status"])).toBeGreaterThanOrEqual(500);
      expect(labels["exception_class"]).not.toBe("");
      expect(total(families, "litellm_deployment_failed_fallbacks_total", { hashed_api_key: key.token })).toBe(0);
    });

    it("counts a deployment's cooldown and shows its state", async () => {
      const cooled = async () => total(await scrape(gateway), "litellm_deployment_cooled_down_total", { exception_status: "500" });
      const before = await cooled();
      provider.behavior.failNext = 1;
      provider.behavior.failStatus = 500;
      const client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      await expect(client.chat.completions.create({ model: "flaky-model", messages: [{ role: "user", content: "fail" }] })).rejects.toMatchObject({ status: 502 });
      expect(await cooled()).toBe(before + 1);
      const families = await scrape(gateway);
      const states = ["flaky-a", "flaky-b", "fast-1"].map((id) => total(families, "litellm_deployment_state", { model_id: id, api_provider: "openai" }));
      expect(states.slice(0, 2).sort()).toEqual([0, 2]);
      expect(states[2]).toBe(0);
    });
  });
}
