import { generateKeyPairSync } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { vertexServiceAccount } from "./support/vertex.js";

// The adapter lives in the router and runs the same in every mode.
const mode = MODES[0]!;

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PUBLIC_KEY = publicKey.export({ type: "spki", format: "pem" }).toString();

// The fake answers Vertex AI's paths and runs Google's token endpoint at
// /token: the gateway signs a JWT with the service account's key, trades it
// for an access token there, and calls Vertex with that token.
function vertexConfig(fakeUrl: string): string {
  const serviceAccount = vertexServiceAccount(fakeUrl, privateKey);
  const wrongUser = JSON.stringify({ type: "authorized_user", client_id: "cid", client_secret: "csecret", refresh_token: "not-the-token", token_uri: `${fakeUrl}/token` });
  const at = `api_base: ${fakeUrl}, vertex_credentials: '${serviceAccount}'`;
  // A deployment naming no credentials takes the workload's own from the metadata server GCE_METADATA_HOST names (GKE's workload identity).
  Object.assign(process.env, { GCE_METADATA_HOST: new URL(fakeUrl).host, CLOUDSDK_CONFIG: "/nonexistent" });
  return writeConfig(`
model_list:
  - model_name: gemini-vertex
    litellm_params: { model: vertex_ai/gemini-2.5-flash, ${at} }
  - model_name: claude-vertex
    litellm_params: { model: "vertex_ai/claude-sonnet-4@20250514", ${at}, vertex_location: us-east5 }
  - model_name: embed-vertex
    litellm_params: { model: vertex_ai/text-embedding-005, ${at} }
  - model_name: gemini-embed-vertex
    litellm_params: { model: vertex_ai/gemini-embedding-001, ${at} }
  - model_name: workload-vertex
    litellm_params: { model: vertex_ai/gemini-2.5-flash, api_base: ${fakeUrl}, vertex_project: gke-project }
  - model_name: refused-vertex
    litellm_params: { model: vertex_ai/gemini-2.5-flash, api_base: ${fakeUrl}, vertex_project: p, vertex_credentials: '${wrongUser}' }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("OpenAI and Anthropic clients on vertex_ai/ deployments", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, vertexConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  afterAll(() => {
    delete process.env["GCE_METADATA_HOST"];
    delete process.env["CLOUDSDK_CONFIG"];
  });

  const upstream = () => provider.requests.at(-1)!;
  const anthropic = () => new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });

  it("trades a signed JWT for one access token, reuses it, and calls Gemini on Vertex with it", async () => {
    provider.behavior.serviceAccountPublicKey = PUBLIC_KEY;
    const answers = await Promise.all(
      ["one", "two", "three"].map((word) => client.chat.completions.create({ model: "gemini-vertex", messages: [{ role: "user", content: `hello ${word}` }] }).withResponse()),
    );
    expect(answers.map(({ data }) => data.choices[0]!.message.content)).toEqual(["Echo: hello one", "Echo: hello two", "Echo: hello three"]);
    expect(provider.tokensIssued).toBe(1);
    const calls = provider.requests.filter((r) => r.path !== "/token");
    expect(calls.map((r) => r.path)).toEqual(Array(3).fill("/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"));
    expect(new Set(calls.map((r) => r.headers["authorization"]))).toEqual(new Set(["Bearer ya29.fake-1"]));
    const row = await gateway.spendLog(answers[0]!.response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ custom_llm_provider: "vertex_ai", model: "gemini-2.5-flash", usage_estimated: false });
    expect(row["spend"]).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({ model: "gemini-vertex", stream: true, messages: [{ role: "user", content: "one two" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Echo: one two");
    expect(upstream().path).toMatch(/:streamGenerateContent$/);
    expect(upstream().query).toEqual({ alt: "sse" });
    expect(provider.tokensIssued).toBe(1);
  });

  it("takes the workload's token from the metadata server when no credentials are named", async () => {
    const answer = await client.chat.completions.create({ model: "workload-vertex", messages: [{ role: "user", content: "hi gke" }] });
    expect(answer.choices[0]!.message.content).toBe("Echo: hi gke");
    const [token, call] = provider.requests.slice(-2);
    expect(token).toMatchObject({ method: "GET", path: "/computeMetadata/v1/instance/service-accounts/default/token" });
    expect(call).toMatchObject({ path: "/v1/projects/gke-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent" });
    expect(call!.headers["authorization"]).toMatch(/^Bearer ya29\.fake-\d+$/);
  });

  it("calls Claude on Vertex through rawPredict, with Vertex's anthropic_version and the model in the address", async () => {
    const answer = await client.chat.completions.create({ model: "claude-vertex", max_tokens: 20, messages: [{ role: "user", content: "hello claude" }] });
    expect(answer.choices[0]!.message.content).toBe("Echo: hello claude");
    expect(upstream().path).toBe("/v1/projects/test-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict");
    expect(upstream().body).toEqual({ anthropic_version: "vertex-2023-10-16", max_tokens: 20, messages: [{ role: "user", content: [{ type: "text", text: "hello claude" }] }] });

    const reply = await anthropic().messages.create({ model: "claude-vertex", max_tokens: 30, messages: [{ role: "user", content: "hello there" }] });
    expect(reply).toMatchObject({ type: "message", content: [{ type: "text", text: "Echo: hello there" }] });
    expect(upstream().body).toEqual({ anthropic_version: "vertex-2023-10-16", max_tokens: 30, messages: [{ role: "user", content: "hello there" }] });

    const stream = anthropic().messages.stream({ model: "claude-vertex", max_tokens: 30, messages: [{ role: "user", content: "one two" }] });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: "text", text: "Echo: one two" }]);
    expect(upstream().path).toMatch(/claude-sonnet-4@20250514:streamRawPredict$/);
    const { response } = await stream.withResponse();
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ custom_llm_provider: "vertex_ai", completion_tokens: final.usage.output_tokens });
  });

  it("answers a JSON schema response_format on Claude on Vertex through a forced tool, whose input is the content", async () => {
    const schema = { type: "object", properties: { answer: { type: "string" } }, required: ["answer"], additionalProperties: false };
    const completion = await client.chat.completions.parse({
      model: "claude-vertex",
      response_format: { type: "json_schema", json_schema: { name: "reply", schema, strict: true } },
      messages: [{ role: "user", content: "Answer in JSON." }],
    });
    expect(completion.choices[0]).toMatchObject({ message: { parsed: { answer: "example" } }, finish_reason: "stop" });
    expect(upstream().path).toMatch(/claude-sonnet-4@20250514:rawPredict$/);
    expect(upstream().body).toMatchObject({ tools: [{ name: "json_tool_call", input_schema: schema }], tool_choice: { type: "tool", name: "json_tool_call" } });
  });

  it("gives an Anthropic client's thinking and top_k to Gemini on Vertex, as it does on gemini/", async () => {
    const message = await anthropic().messages.create({
      model: "gemini-vertex",
      max_tokens: 2048,
      thinking: { type: "enabled", budget_tokens: 1024 },
      top_k: 40,
      messages: [{ role: "user", content: "think about it" }],
    });
    expect(message.content.map((block) => block.type)).toEqual(["thinking", "text"]);
    expect(upstream().path).toMatch(/gemini-2\.5-flash:generateContent$/);
    expect((upstream().body as { generationConfig: unknown }).generationConfig).toEqual({
      maxOutputTokens: 2048,
      topK: 40,
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });

    const streamed = await anthropic()
      .messages.stream({ model: "gemini-vertex", max_tokens: 2048, thinking: { type: "enabled", budget_tokens: 1024 }, messages: [{ role: "user", content: "one two" }] })
      .finalMessage();
    expect(streamed.content.map((block) => block.type)).toEqual(["thinking", "text"]);
  });

  it("embeds with Vertex's predict, in one call for the list", async () => {
    const { data, response } = await client.embeddings.create({ model: "embed-vertex", input: ["one two", "three"], dimensions: 64 }).withResponse();
    expect(data.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 64],
      [1, 64],
    ]);
    expect(data.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(upstream()).toMatchObject({
      path: "/v1/projects/test-project/locations/us-central1/publishers/google/models/text-embedding-005:predict",
      body: { instances: [{ content: "one two" }, { content: "three" }], parameters: { outputDimensionality: 64 } },
    });
    expect(await gateway.spendLog(response.headers.get("x-litellm-call-id")!)).toMatchObject({ custom_llm_provider: "vertex_ai", prompt_tokens: 3 });

    // gemini-embedding-001 takes one text a call: the list goes out as several, and comes back as one.
    provider.requests.length = 0;
    const gemini = await client.embeddings.create({ model: "gemini-embed-vertex", input: ["one two", "three", "four"] });
    expect(gemini.data.map((d) => [d.index, d.embedding.length])).toEqual([
      [0, 3072],
      [1, 3072],
      [2, 3072],
    ]);
    expect(gemini.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(provider.requests.filter((r) => r.path.endsWith(":predict")).map((r) => r.body)).toEqual(
      expect.arrayContaining([{ instances: [{ content: "one two" }] }, { instances: [{ content: "three" }] }, { instances: [{ content: "four" }] }]),
    );
  });

  it("answers 401 when Google refuses the credentials, naming why and not the secret", async () => {
    const err = await client.chat.completions.create({ model: "refused-vertex", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const message = (err as InstanceType<typeof OpenAI.APIError>).message;
    expect(message).toContain("refused the credentials");
    expect(message).not.toContain("csecret");
    expect(provider.requests.filter((r) => r.path !== "/token")).toEqual([]);
  });

  it("passes Vertex's errors on with their statuses", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 3 });
    const limited = await client.chat.completions.create({ model: "gemini-vertex", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.APIError>).headers?.get("retry-after")).toBe("3");
    expect(JSON.stringify((limited as InstanceType<typeof OpenAI.APIError>).error)).not.toContain(PROVIDER_KEY);
  });
});
