import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { fakeOpenAIConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// LiteLLM's allowed_routes on a key, with the official client: a key limited
// to some routes is refused the others, model calls and management routes
// alike, also where a split edge keeps the key's Authorize answers.

type ErrorJson = { error: { message: string; type: string } };

function allowedRouteTests(mode: (typeof MODES)[number]): void {
  let setup: FakeBehindGateway;
  let baseUrl: string;
  beforeAll(async () => {
    setup = await startFakeBehindGateway(mode, fakeOpenAIConfig);
    baseUrl = setup.gateway.baseUrl;
  });
  afterAll(() => setup?.close());

  const keyFor = async (routes: string[]) => (await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { allowed_routes: routes })).json.key;
  const clientOf = (key: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: key, maxRetries: 0 });
  const chat = (key: string) => clientOf(key).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "routes" }] });
  const get = async (key: string, path: string) => {
    const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, json: (await res.json()) as ErrorJson };
  };

  it("keeps a key to the routes it names", async () => {
    const key = await keyFor(["/v1/embeddings"]);
    // Asked first, so a split edge keeps an answer for the key and model: the chat request must not pass on it.
    const embedded = await clientOf(key).embeddings.create({ model: "fast-model", input: "routes" });
    expect(embedded.data).toHaveLength(1);
    const refused = await chat(key).catch((err: unknown) => err as { status: number; error: { message: string; type: string } });
    expect(refused).toMatchObject({
      status: 403,
      error: { type: "permission_error", message: 'Virtual key is not allowed to call this route. Only allowed to call routes: ["/v1/embeddings"]. Tried to call route: /v1/chat/completions' },
    });
    expect((await get(key, "/key/info")).status).toBe(403);
    expect((await get(key, "/v1/models")).status).toBe(403);
    // Refused before the provider was called.
    expect(setup.provider.requests.filter((r) => r.path.endsWith("/chat/completions"))).toHaveLength(0);
  });

  it("refuses a route the key may not use before its rate limits count it, so the routes it may use stay open", async () => {
    const key = (await admin<{ key: string }>(baseUrl, "POST", "/key/generate", { allowed_routes: ["/v1/embeddings"], rpm_limit: 2 })).json.key;
    for (let i = 0; i < 3; i++) {
      const refused = await chat(key).catch((err: unknown) => err as { status: number; error: { type: string } });
      expect(refused).toMatchObject({ status: 403, error: { type: "permission_error" } });
    }
    const embedded = await clientOf(key).embeddings.create({ model: "fast-model", input: "routes" });
    expect(embedded.data).toHaveLength(1);
  });

  it("reads LiteLLM's route groups", async () => {
    const key = await keyFor(["llm_api_routes"]);
    expect((await chat(key)).choices[0]?.message.content).toBeTruthy();
    expect((await clientOf(key).models.list()).data.map((m) => m.id)).toContain("fast-model");
    const info = await get(key, "/key/info");
    expect(info.status).toBe(403);
    expect(info.json.error.message).toContain('Only allowed to call routes: ["llm_api_routes"]');
    const both = await keyFor(["llm_api_routes", "info_routes"]);
    expect((await get(both, "/key/info")).status).toBe(200);
  });
}

describe("allowed_routes, one process", () => allowedRouteTests(MODES[0]!));
describe("allowed_routes, split services", () => allowedRouteTests(MODES[1]!));
