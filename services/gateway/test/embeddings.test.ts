import { embed, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { providersConfig } from "./support/providers.js";

describe.each(MODES)("POST /v1/embeddings, $name", (mode) => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, providersConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const vectors = (texts: string[]) => texts.map((t) => embed(t));

  it("embeds through an OpenAI deployment (base64 by default, as the SDK asks) and books usage and cost", async () => {
    const { data, response } = await client.embeddings.create({ model: "embed-openai", input: ["first text", "second one here"] }).withResponse();
    expect(data.data.map((d) => d.embedding)).toEqual(vectors(["first text", "second one here"]));
    expect(data.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    expect(provider.requests.at(-1)!.body).toMatchObject({ model: "text-embedding-3-small", encoding_format: "base64" });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    // text-embedding-3-small: $0.02 per million tokens.
    expect(row).toMatchObject({ call_type: "aembedding", custom_llm_provider: "openai", prompt_tokens: 5, completion_tokens: 0, status: "success" });
    expect(row["spend"]).toBeCloseTo((5 * 0.02) / 1e6, 15);
    expect(Number(response.headers.get("x-litellm-response-cost"))).toBeCloseTo(row["spend"] as number, 15);
  });

  it("embeds through an Azure deployment at its URL, priced by its override", async () => {
    const { data, response } = await client.embeddings.create({ model: "embed-azure", input: "azure text", encoding_format: "float" }).withResponse();
    expect(data.data[0]!.embedding).toEqual(embed("azure text"));
    const upstream = provider.requests.at(-1)!;
    expect(upstream.path).toBe("/openai/deployments/my-embedding/embeddings");
    expect(upstream.headers["api-key"]).toBe(PROVIDER_KEY);
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row["spend"]).toBeCloseTo(2 * 1e-7, 15);
  });

  it("embeds through Gemini's batchEmbedContents, counting tokens locally since Gemini reports none", async () => {
    const { data, response } = await client.embeddings.create({ model: "embed-gemini", input: ["gemini one", "gemini two"], dimensions: 4 }).withResponse();
    expect(data.data.map((d) => d.embedding)).toEqual(vectors(["gemini one", "gemini two"]).map((v) => v.slice(0, 4)));
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    expect(data.usage.prompt_tokens).toBeGreaterThan(0);
    const upstream = provider.requests.at(-1)!;
    expect(upstream.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    expect(upstream.body).toEqual({
      requests: [
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "gemini one" }] }, outputDimensionality: 4 },
        { model: "models/gemini-embedding-001", content: { parts: [{ text: "gemini two" }] }, outputDimensionality: 4 },
      ],
    });
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "aembedding", custom_llm_provider: "gemini", usage_estimated: true, prompt_tokens: data.usage.prompt_tokens });
  });

  it("refuses models that serve no embeddings, and bad input, with 400s", async () => {
    await expect(client.embeddings.create({ model: "claude", input: "hi" })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.embeddings.create({ model: "embed-openai", input: "" })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client.embeddings.create({ model: "nope", input: "hi" })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    // Raw HTTP: the SDK's types would not let a number through.
    const numbered = await fetch(`${gateway.baseUrl}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: 123, input: "hi" }),
    });
    expect(numbered.status).toBe(400);
    expect(await numbered.json()).toMatchObject({ error: { message: "model must be a string", param: "model" } });
    expect(provider.requests).toHaveLength(0);
  });

  it("passes a provider failure on with its status", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429 });
    await expect(client.embeddings.create({ model: "embed-gemini", input: "hi" })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });
});
