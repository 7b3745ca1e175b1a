import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// POST /v1/moderations (and /moderations) through openai/ deployments, with
// the official client: a request without a model goes to the group named as
// OpenAI's default model; moderations are booked at no tokens and no cost.
const mode = MODES[0]!;

function moderationsConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: omni-moderation-latest
    litellm_params: { model: openai/omni-moderation-latest, ${at} }
    model_info: { mode: moderation }
  - model_name: stable-moderation
    litellm_params: { model: openai/text-moderation-stable, ${at} }
  - model_name: paid-chat
    litellm_params: { model: openai/gpt-4o-mini, ${at} }
  - model_name: azure-moderation
    litellm_params: { model: azure/team-moderation, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("moderations", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, moderationsConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const post = (body: unknown) =>
    fetch(`${gateway.baseUrl}/moderations`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  it("runs a request without a model on the omni-moderation-latest group, passes the verdict on and books it at no cost", async () => {
    const { data, response } = await client.moderations.create({ input: "I will kill the bug" }).withResponse();
    expect(data.results).toHaveLength(1);
    expect(data.results[0]).toMatchObject({ flagged: true, categories: { violence: true, hate: false } });
    expect(data.results[0]!.category_scores.violence).toBeGreaterThan(0.5);
    expect(provider.requests.at(-1)).toMatchObject({
      path: "/v1/moderations",
      headers: { authorization: `Bearer ${PROVIDER_KEY}` },
      body: { model: "omni-moderation-latest", input: "I will kill the bug" },
    });
    expect(response.headers.get("x-litellm-model-group")).toBe("omni-moderation-latest");
    expect(response.headers.get("x-litellm-response-cost")).toBe("0");
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "amoderation", model_group: "omni-moderation-latest", model: "omni-moderation-latest", prompt_tokens: 0, completion_tokens: 0, spend: 0, status: "success" });
  });

  it("sends the deployment's model for a named group, one verdict per string of a list, also at /moderations", async () => {
    const named = await client.moderations.create({ model: "stable-moderation", input: ["kill the lights", "a sunny day"] });
    expect(named.results.map((r) => r.flagged)).toEqual([true, false]);
    expect(provider.requests.at(-1)?.body).toMatchObject({ model: "text-moderation-stable", input: ["kill the lights", "a sunny day"] });

    const res = await post({ model: "omni-moderation-latest", input: [{ type: "text", text: "a picture" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] });
    expect(res.status).toBe(200);
    const multimodal = (await res.json()) as OpenAI.ModerationCreateResponse;
    expect(multimodal.results).toHaveLength(1);
    expect(multimodal.results[0]).toMatchObject({ flagged: false, category_applied_input_types: { violence: ["text", "image"] } });
    const row = await gateway.spendLog(res.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "amoderation", spend: 0, total_tokens: 0 });
  });

  it("refuses a body without input, an empty one, and deployments that do not moderate, with an OpenAI-style 400", async () => {
    await expect(client.moderations.create({ input: "" })).rejects.toMatchObject({ status: 400, param: "input" });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /input must be a non-empty string or array/],
      [{ model: "omni-moderation-latest", input: [] }, /input must be a non-empty string or array/],
      [{ model: "azure-moderation", input: "x" }, /azure deployments do not moderate/],
      [{ model: "claude", input: "x" }, /model claude does not moderate/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect(res.status, String(message)).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; type: string } };
      expect(error).toMatchObject({ type: "invalid_request_error", message: expect.stringMatching(message) });
    }
    expect(provider.requests).toHaveLength(0);
  });

  it("reserves nothing against a key's budget, so a budget too small for any priced call still moderates", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 0.0000001, models: ["omni-moderation-latest", "paid-chat"] });
    const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    await expect(asKey.chat.completions.create({ model: "paid-chat", messages: [{ role: "user", content: "hi" }] })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Budget has been exceeded/) });
    for (let i = 0; i < 3; i++) expect((await asKey.moderations.create({ input: "a sunny day" })).results[0]?.flagged).toBe(false);
  });

  it("probes a deployment whose mode is moderation with a moderation in /health", async () => {
    const { json } = await admin<{ healthy_endpoints: { model_group: string }[] }>(gateway.baseUrl, "GET", "/health?model=omni-moderation-latest");
    expect(json.healthy_endpoints.map((e) => e.model_group)).toEqual(["omni-moderation-latest"]);
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/moderations", body: { model: "omni-moderation-latest", input: "ping" } });
  });
});
