import type { FakeProvider } from "@gateway/fake-provider";
import OpenAI, { toFile } from "openai";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";

// POST /v1/images/generations and /v1/images/edits (an upload) through
// openai/ and azure/ deployments, with the official client: DALL·E booked by
// the image, GPT Image by its kinds of tokens.
const mode = MODES[0]!;

function imagesConfig(fakeUrl: string): string {
  const at = `api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY`;
  return writeConfig(`
model_list:
  - model_name: dalle
    litellm_params: { model: openai/dall-e-3, ${at} }
    model_info: { mode: image_generation }
  - model_name: dalle-2
    litellm_params: { model: openai/dall-e-2, ${at} }
  - model_name: gpt-image
    litellm_params: { model: openai/gpt-image-1, ${at} }
  - model_name: azure-images
    litellm_params: { model: azure/team-dalle, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY, api_version: "2024-10-21" }
    model_info: { base_model: azure/dall-e-3 }
  - model_name: local-images
    litellm_params: { model: openai/sdxl-turbo, ${at} }
    model_info: { output_cost_per_image: 0.002 }
  - model_name: claude
    litellm_params: { model: anthropic/claude-3-5-haiku-20241022, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("image generation", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;
  fakeBehindGatewayPerTest(mode, imagesConfig, (setup) => ({ provider, gateway, openai: client } = setup));

  const rowOf = (response: Response) => gateway.spendLog(response.headers.get("x-litellm-call-id")!);

  it("generates with DALL·E 3 and books the image at its quality and size", async () => {
    const { data, response } = await client.images.generate({ model: "dalle", prompt: "a red fox", quality: "hd", size: "1792x1024" }).withResponse();
    expect(data.data).toHaveLength(1);
    expect(data.data![0]).toMatchObject({ b64_json: expect.any(String), revised_prompt: "A picture of a red fox" });
    expect(provider.requests.at(-1)).toMatchObject({
      path: "/v1/images/generations",
      headers: { authorization: `Bearer ${PROVIDER_KEY}` },
      body: { model: "dall-e-3", prompt: "a red fox", quality: "hd", size: "1792x1024" },
    });
    expect(response.headers.get("x-litellm-model-group")).toBe("dalle");
    const row = await rowOf(response);
    expect(row).toMatchObject({ call_type: "aimage_generation", model: "dall-e-3", model_group: "dalle", status: "success", prompt_tokens: 0, completion_tokens: 0 });
    expect(row["spend"]).toBeCloseTo(0.12, 12);
  });

  it("books each image DALL·E 2 returned, as URLs when asked", async () => {
    const { data, response } = await client.images.generate({ model: "dalle-2", prompt: "three owls", n: 3, size: "256x256", response_format: "url" }).withResponse();
    expect(data.data!.map((image) => image.url)).toEqual([expect.stringMatching(/^https:\/\//), expect.stringMatching(/^https:\/\//), expect.stringMatching(/^https:\/\//)]);
    expect((await rowOf(response))["spend"]).toBeCloseTo(3 * 0.016, 12);
  });

  it("books a model the list does not know at the output_cost_per_image its deployment sets", async () => {
    const { data, response } = await client.images.generate({ model: "local-images", prompt: "a cabin", n: 3 }).withResponse();
    expect(data.data).toHaveLength(3);
    expect((await rowOf(response))["spend"]).toBeCloseTo(3 * 0.002, 12);
  });

  it("books GPT Image by the tokens it reports, and passes its usage on", async () => {
    const { data, response } = await client.images.generate({ model: "gpt-image", prompt: "a lighthouse at dusk", n: 2, quality: "high" }).withResponse();
    expect(data.data).toHaveLength(2);
    const usage = data.usage!;
    expect(usage.output_tokens).toBe(2 * 4160);
    const row = await rowOf(response);
    expect(row).toMatchObject({ prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens });
    expect(row["spend"]).toBeCloseTo((usage.input_tokens * 5 + usage.output_tokens * 40) / 1e6, 12);
  });

  const png = (name = "photo.png") => toFile(Buffer.from("fake png bytes"), name, { type: "image/png" });

  it("edits with GPT Image, booking the images it read at their own price beside the prompt's text", async () => {
    const { data, response } = await client.images.edit({ model: "gpt-image", image: await png(), prompt: "add a hat" }).withResponse();
    expect(data.data).toHaveLength(1);
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/images/edits", headers: { authorization: `Bearer ${PROVIDER_KEY}`, "content-type": expect.stringMatching(/^multipart\/form-data/) } });
    const usage = data.usage!;
    expect(usage.input_tokens_details).toMatchObject({ image_tokens: 323 });
    const row = await rowOf(response);
    expect(row).toMatchObject({ call_type: "aimage_edit", model: "gpt-image-1", prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens });
    expect(row["spend"]).toBeCloseTo((usage.input_tokens_details.text_tokens * 5 + 323 * 10 + usage.output_tokens * 40) / 1e6, 12);
  });

  it("edits several images given as image[], and DALL·E 2 by the image returned", async () => {
    const form = new FormData();
    form.append("model", "gpt-image");
    form.append("prompt", "merge them");
    for (const name of ["a.png", "b.png"]) form.append("image[]", new Blob([Buffer.from("png")], { type: "image/png" }), name);
    const res = await fetch(`${gateway.baseUrl}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}` }, body: form });
    expect(res.status).toBe(200);
    const merged = (await res.json()) as { usage: { input_tokens_details: { image_tokens: number } } };
    expect(merged.usage.input_tokens_details.image_tokens).toBe(2 * 323);
    const { data, response } = await client.images.edit({ model: "dalle-2", image: await png(), prompt: "sepia", n: 2 }).withResponse();
    expect(data.data).toHaveLength(2);
    expect((await rowOf(response))["spend"]).toBeCloseTo(2 * 0.02, 12);
  });

  it("refuses an edit that is not an upload, or has no image, with an OpenAI-style error", async () => {
    const json = await fetch(`${gateway.baseUrl}/v1/images/edits`, {
      method: "POST",
      headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image", prompt: "x" }),
    });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.append("model", "gpt-image");
    form.append("prompt", "x");
    const noImage = await fetch(`${gateway.baseUrl}/v1/images/edits`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}` }, body: form });
    expect(noImage.status).toBe(400);
    expect(((await noImage.json()) as { error: { message: string } }).error.message).toMatch(/image must be an uploaded image file/);
  });

  it("calls an Azure deployment at its own path, priced as the base_model it names", async () => {
    const { response } = await client.images.generate({ model: "azure-images", prompt: "a teapot" }).withResponse();
    expect(provider.requests.at(-1)).toMatchObject({ path: "/openai/deployments/team-dalle/images/generations", query: { "api-version": "2024-10-21" }, headers: { "api-key": PROVIDER_KEY } });
    expect((await rowOf(response))["spend"]).toBeCloseTo(0.04, 12);
  });

  it("answers what it cannot run with an OpenAI-style 400, the provider's own refusals included", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ model: "dalle" }, /prompt must be a non-empty string/],
      [{ model: "dalle", prompt: "x", stream: true }, /not streamed/],
      [{ model: "claude", prompt: "x" }, /model claude does not generate images/],
      [{ model: "dalle", prompt: "x", n: 2 }, /n=1/],
    ];
    for (const [body, message] of cases) {
      const res = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, String(message)).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; type: string } };
      expect(error.message).toMatch(message);
    }
  });

  it("reserves a GPT Image request's most costly answer against a key's budget, and keeps keys to their models", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 0.3, models: ["gpt-image"] });
    const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    await expect(asKey.images.generate({ model: "gpt-image", prompt: "two cats", n: 2 })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Budget has been exceeded/) });
    const one = await asKey.images.generate({ model: "gpt-image", prompt: "one cat" });
    expect(one.data).toHaveLength(1);
    await expect(asKey.images.generate({ model: "dalle", prompt: "a dog" })).rejects.toMatchObject({ status: 401 });
  });

  it("reserves DALL·E's dearest image against a key's budget, so a budget smaller than one image is never passed", async () => {
    const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 0.1, models: ["dalle"] });
    const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
    const before = provider.requests.length;
    await expect(asKey.images.generate({ model: "dalle", prompt: "a dog" })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/Budget has been exceeded/) });
    expect(provider.requests.length).toBe(before);
  });

  it("probes a deployment whose mode is image_generation with an image in /health", async () => {
    const { json } = await admin<{ healthy_endpoints: { model_group: string }[] }>(gateway.baseUrl, "GET", "/health?model=dalle");
    expect(json.healthy_endpoints.map((e) => e.model_group)).toEqual(["dalle"]);
    expect(provider.requests.at(-1)).toMatchObject({ path: "/v1/images/generations", body: { prompt: "ping", n: 1 } });
  });
});
