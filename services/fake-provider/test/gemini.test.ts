import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embed, startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: "AIza-test-key" } });
});

afterEach(async () => {
  await provider.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = { "x-goog-api-key": "AIza-test-key" }): Promise<Response> {
  return fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

const hello = { contents: [{ role: "user", parts: [{ text: "hello there" }] }] };

describe("gemini", () => {
  it("lists its models at GET /v1beta/models, named as Gemini names them", async () => {
    provider.behavior.listedModels = ["gemini-2.5-flash", "gemini-2.5-pro"];
    const res = await fetch(`${provider.url}/v1beta/models`, { headers: { "x-goog-api-key": "AIza-test-key" } });
    const { models } = (await res.json()) as { models: { name: string }[] };
    expect(models.map((m) => m.name)).toEqual(["models/gemini-2.5-flash", "models/gemini-2.5-pro"]);
    expect((await fetch(`${provider.url}/v1beta/models`, { headers: { "x-goog-api-key": "wrong" } })).status).toBe(400);
  });

  it("answers generateContent with a candidate and usageMetadata", async () => {
    const res = await post("/v1beta/models/gemini-test:generateContent", { ...hello, systemInstruction: { parts: [{ text: "be nice" }] } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      candidates: [{ content: { role: "model", parts: [{ text: "Echo: hello there" }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 3, totalTokenCount: 7 },
      modelVersion: "gemini-test",
      responseId: "fake-response-1",
    });
  });

  it("takes the key as ?key= too, and cuts at maxOutputTokens", async () => {
    const res = await post("/v1beta/models/g:generateContent?key=AIza-test-key", { ...hello, generationConfig: { maxOutputTokens: 1 } }, {});
    expect(await res.json()).toMatchObject({ candidates: [{ content: { parts: [{ text: "Echo:" }] }, finishReason: "MAX_TOKENS" }] });
  });

  it("calls the first declared function when asked about the weather", async () => {
    const res = await post("/v1beta/models/g:generateContent", {
      contents: [{ role: "user", parts: [{ text: "weather?" }] }],
      tools: [{ functionDeclarations: [{ name: "get_weather" }] }],
    });
    expect(await res.json()).toMatchObject({ candidates: [{ content: { parts: [{ functionCall: { name: "get_weather", args: { location: "Paris" } } }] } }] });
  });

  it("signs a Gemini 3 model's function calls, and wants the signature back with the call", async () => {
    const weather = { tools: [{ functionDeclarations: [{ name: "get_weather" }] }] };
    const asked = await post("/v1beta/models/gemini-3-flash:generateContent", { contents: [{ role: "user", parts: [{ text: "weather?" }] }], ...weather });
    const call = ((await asked.json()) as { candidates: { content: { parts: Record<string, unknown>[] } }[] }).candidates[0]!.content.parts[0]!;
    expect(call["thoughtSignature"]).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const replay = (part: Record<string, unknown>) =>
      post("/v1beta/models/gemini-3-flash:generateContent", {
        contents: [
          { role: "user", parts: [{ text: "weather?" }] },
          { role: "model", parts: [part] },
          { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "sunny" } } }] },
        ],
        ...weather,
      });
    expect((await replay(call)).status).toBe(200);
    expect((await replay({ ...call, thoughtSignature: "skip_thought_signature_validator" })).status).toBe(200);
    const unsigned = await replay({ functionCall: call["functionCall"] });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toMatchObject({ error: { status: "INVALID_ARGUMENT", message: expect.stringContaining("thought_signature") } });
  });

  it("streams with alt=sse in CRLF-separated events, the last with finishReason and the totals", async () => {
    const res = await post("/v1beta/models/g:streamGenerateContent?alt=sse", hello);
    const frames = (await res.text()).split("\r\n\r\n").filter((f) => f !== "");
    const events = frames.map((f) => JSON.parse(f.slice("data: ".length)));
    expect(events.map((e) => e.candidates[0].content.parts[0].text).join("")).toBe("Echo: hello there");
    expect(events.at(-1)).toMatchObject({ candidates: [{ finishReason: "STOP" }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 3 } });
    expect(events[0].candidates[0].finishReason).toBeUndefined();
  });

  it("embeds a batch, to the requested dimensions", async () => {
    const res = await post("/v1beta/models/e:batchEmbedContents", {
      requests: [
        { model: "models/e", content: { parts: [{ text: "a" }] } },
        { model: "models/e", content: { parts: [{ text: "b" }] }, outputDimensionality: 3 },
      ],
    });
    expect(await res.json()).toEqual({ embeddings: [{ values: embed("a") }, { values: embed("b").slice(0, 3) }] });
  });

  it("quotes an object whose toString is not a function as JSON in its 400", async () => {
    const call = { role: "model", parts: [{ functionCall: { name: { toString: 1 }, args: {} } }] };
    const unsigned = await post("/v1beta/models/gemini-3-pro:generateContent", { contents: [...hello.contents, call, ...hello.contents] });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.json()).toEqual({
      error: { code: 400, message: 'Function call `{"toString":1}` is missing a thought_signature in functionCall parts.', status: "INVALID_ARGUMENT" },
    });
    const batch = await post("/v1beta/models/e:batchEmbedContents", { requests: [{ model: { toString: 1 }, content: { parts: [{ text: "hi" }] } }] });
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ error: { message: 'Model in request "{"toString":1}" does not match models/e.' } });
  });

  it("answers errors as {error: {code, message, status}}", async () => {
    const missing = await post("/v1beta/models/g:generateContent", hello, {});
    expect(missing.status).toBe(403);
    const wrong = await post("/v1beta/models/g:generateContent", hello, { "x-goog-api-key": "nope" });
    expect(await wrong.json()).toEqual({ error: { code: 400, message: "API key not valid. Please pass a valid API key.", status: "INVALID_ARGUMENT" } });
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429 });
    const limited = await post("/v1beta/models/g:generateContent", hello);
    expect(await limited.json()).toMatchObject({ error: { code: 429, status: "RESOURCE_EXHAUSTED" } });
  });
});
