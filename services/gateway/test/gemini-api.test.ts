import { FunctionCallingConfigMode, GoogleGenAI, type Content, type Tool } from "@google/genai";
import type { FakeProvider } from "@gateway/fake-provider";
import { describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type FakeBehindGateway } from "./support/modes.js";

// Google's Gemini API (models/{model}:generateContent, :streamGenerateContent,
// :countTokens, :embedContent, :batchEmbedContents) over an OpenAI-compatible deployment, driven by Google's own
// SDK as the Gemini CLI drives it: answers, streams, function calls and
// their results, the key's checks and the ledger, and errors in Google's shape.

function config(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY, temperature: 0.3 }
  - model_name: smart-model
    litellm_params: { model: openai/gpt-4o, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: gemini-model
    litellm_params: { model: gemini/gemini-3-flash-preview, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY, temperature: 0.2 }
  - model_name: openai-embed
    litellm_params: { model: openai/text-embedding-3-small, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { mode: embedding }
  - model_name: gemini-embed
    litellm_params: { model: gemini/gemini-embedding-001, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { mode: embedding }
general_settings:
  master_key: ${MASTER_KEY}
`);
}

const WEATHER: Tool = {
  functionDeclarations: [
    {
      name: "get_weather",
      description: "The weather in a city",
      parameters: { type: "OBJECT" as never, properties: { location: { type: "STRING" as never } }, required: ["location"] },
    },
  ],
};

describe.each([MODES[0]!, MODES[1]!])("Gemini API, $name", (mode) => {
  let setup: FakeBehindGateway;
  fakeBehindGatewayPerTest(mode, config, (s) => (setup = s));
  const provider = (): FakeProvider => setup.provider;
  const gemini = (apiKey = MASTER_KEY) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: setup.gateway.baseUrl } });
  const lastChat = () => provider().requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body as Record<string, unknown>;

  it("answers generateContent from the model group, with its usage, and books it", async () => {
    const answer = await gemini().models.generateContent({
      model: "fast-model",
      contents: "hello gemini",
      config: { systemInstruction: "Be brief.", maxOutputTokens: 50, stopSequences: ["zzz"] },
    });
    expect(answer.text).toBe("Echo: hello gemini");
    expect(answer.candidates?.[0]?.finishReason).toBe("STOP");
    expect(answer.usageMetadata?.promptTokenCount).toBeGreaterThan(0);
    expect(answer.usageMetadata?.totalTokenCount).toBe(answer.usageMetadata!.promptTokenCount! + answer.usageMetadata!.candidatesTokenCount!);
    // As a chat request, with the deployment's own parameters; the path's model and stream flag stay the gateway's.
    expect(lastChat()).toMatchObject({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "hello gemini" },
      ],
      max_tokens: 50,
      stop: ["zzz"],
      temperature: 0.3,
    });
    const id = answer.sdkHttpResponse?.headers?.["x-litellm-call-id"];
    expect(id).toBeTruthy();
    expect(await setup.gateway.spendLog(id!)).toMatchObject({ call_type: "agenerate_content", model_group: "fast-model", status: "success" });
  });

  it("streams streamGenerateContent as Gemini's chunks, the last with the finish reason and usage", async () => {
    const stream = await gemini().models.generateContentStream({ model: "smart-model", contents: [{ role: "user", parts: [{ text: "stream this please" }] }] });
    let text = "";
    let last;
    for await (const chunk of stream) {
      text += chunk.text ?? "";
      last = chunk;
    }
    expect(text).toBe("Echo: stream this please");
    expect(last?.candidates?.[0]?.finishReason).toBe("STOP");
    expect(last?.usageMetadata?.candidatesTokenCount).toBeGreaterThan(0);
    expect(lastChat()).toMatchObject({ model: "gpt-4o", stream: true });
  });

  it("turns function declarations into tools and function calls and responses back and forth", async () => {
    const ask = { role: "user", parts: [{ text: "what is the weather in Paris?" }] } satisfies Content;
    const toolConfig = { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ["get_weather"] } };
    const called = await gemini().models.generateContent({ model: "fast-model", contents: [ask], config: { tools: [WEATHER], toolConfig } });
    expect(called.functionCalls).toEqual([{ id: "call_fake_1", name: "get_weather", args: { location: "Paris" } }]);
    expect(lastChat()).toMatchObject({
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } } }],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    // Streamed, the call comes whole in the last chunk.
    const stream = await gemini().models.generateContentStream({ model: "fast-model", contents: [ask], config: { tools: [WEATHER] } });
    const calls = [];
    for await (const chunk of stream) calls.push(...(chunk.functionCalls ?? []));
    expect(calls).toEqual([{ id: "call_fake_1", name: "get_weather", args: { location: "Paris" } }]);
    // The call and its result, without ids as Gemini sends them, pair up as a tool call and its answer.
    const answered = await gemini().models.generateContent({
      model: "fast-model",
      contents: [
        ask,
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { location: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "sunny" } } }] },
      ],
      config: { tools: [WEATHER] },
    });
    expect(answered.text).toBe("Echo: what is the weather in Paris?");
    const messages = lastChat()["messages"] as Record<string, unknown>[];
    const callId = (messages[1]?.["tool_calls"] as { id: string }[])[0]?.id;
    expect(messages.slice(1)).toEqual([
      { role: "assistant", content: null, tool_calls: [{ id: callId, type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
      { role: "tool", tool_call_id: callId, content: '{"forecast":"sunny"}' },
    ]);
  });

  it("sends a Gemini deployment the request as it is, Google's tools and thought signatures included", async () => {
    const upstream = () => provider().requests.at(-1)!;
    const ask = { role: "user", parts: [{ text: "what is the weather in Paris?" }] } satisfies Content;
    const tools = [WEATHER, { googleSearch: {} }];
    const called = await gemini().models.generateContent({ model: "gemini-model", contents: [ask], config: { tools, maxOutputTokens: 40 } });
    expect(upstream().path).toBe("/v1beta/models/gemini-3-flash-preview:generateContent");
    expect(upstream().headers["x-goog-api-key"]).not.toBe(MASTER_KEY);
    // The client's body with the deployment's parameters it lacks; not the path's model or a stream flag.
    expect(upstream().body).toEqual({ contents: [ask], tools, generationConfig: { maxOutputTokens: 40, temperature: 0.2 } });
    const call = called.candidates?.[0]?.content;
    expect(call?.parts?.[0]?.thoughtSignature).toEqual(expect.any(String));
    // Sent back as it came, the signed call passes Gemini's check.
    const answered = await gemini().models.generateContent({
      model: "gemini-model",
      contents: [ask, call!, { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { forecast: "sunny" } } }] }],
      config: { tools },
    });
    expect(answered.text).toBe("Echo: what is the weather in Paris?");
    const stream = await gemini().models.generateContentStream({ model: "gemini-model", contents: "native stream" });
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.text ?? "";
      usage = chunk.usageMetadata ?? usage;
    }
    expect(text).toBe("Echo: native stream");
    expect(upstream().path).toBe("/v1beta/models/gemini-3-flash-preview:streamGenerateContent");
    expect(usage?.candidatesTokenCount).toBeGreaterThan(0);
    // Booked at the usage Gemini reported.
    const row = await setup.gateway.spendLog(answered.sdkHttpResponse!.headers!["x-litellm-call-id"]!);
    expect(row).toMatchObject({ call_type: "agenerate_content", custom_llm_provider: "gemini", usage_estimated: false, prompt_tokens: answered.usageMetadata?.promptTokenCount });
  });

  it("embeds with embedContent and batchEmbedContents on any deployment that embeds, and books them", async () => {
    const many = await gemini().models.embedContent({ model: "openai-embed", contents: ["first text", "second text"], config: { outputDimensionality: 8 } });
    expect(many.embeddings?.map((e) => e.values?.length)).toEqual([8, 8]);
    expect(provider().requests.at(-1)).toMatchObject({ path: "/v1/embeddings", body: { model: "text-embedding-3-small", input: ["first text", "second text"], dimensions: 8 } });
    // The task type reaches Gemini, which takes it; OpenAI, which does not, never sees it.
    const native = await gemini().models.embedContent({ model: "gemini-embed", contents: "a query", config: { taskType: "RETRIEVAL_QUERY" } });
    expect(native.embeddings).toHaveLength(1);
    expect(provider().requests.at(-1)).toMatchObject({
      path: "/v1beta/models/gemini-embedding-001:batchEmbedContents",
      body: { requests: [{ model: "models/gemini-embedding-001", content: { parts: [{ text: "a query" }] }, taskType: "RETRIEVAL_QUERY" }] },
    });
    await gemini().models.embedContent({ model: "openai-embed", contents: "typed", config: { taskType: "RETRIEVAL_QUERY" } });
    expect(provider().requests.at(-1)?.body).toEqual({ model: "text-embedding-3-small", input: ["typed"] });

    const single = await fetch(`${setup.gateway.baseUrl}/v1beta/models/openai-embed:embedContent`, {
      method: "POST",
      headers: { "x-goog-api-key": MASTER_KEY, "content-type": "application/json" },
      body: JSON.stringify({ content: { parts: [{ text: "just one" }] } }),
    });
    expect(single.status).toBe(200);
    const { embedding } = (await single.json()) as { embedding: { values: number[] } };
    expect(embedding.values.length).toBeGreaterThan(0);
    const row = await setup.gateway.spendLog(single.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ call_type: "aembedding", model_group: "openai-embed", status: "success" });
    expect(row["prompt_tokens"]).toBeGreaterThan(0);

    const empty = await fetch(`${setup.gateway.baseUrl}/v1beta/models/openai-embed:batchEmbedContents`, {
      method: "POST",
      headers: { "x-goog-api-key": MASTER_KEY, "content-type": "application/json" },
      body: JSON.stringify({ requests: [] }),
    });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { status: string; message: string } }).error).toMatchObject({ status: "INVALID_ARGUMENT", message: expect.stringContaining("requests") });
  });

  it("lists and gets the key's model groups in Gemini's shapes, page by page", async () => {
    const names = async (apiKey?: string) => {
      const listed = [];
      for await (const model of await gemini(apiKey).models.list({ config: { pageSize: 2 } })) listed.push(model.name);
      return listed;
    };
    expect(await names()).toEqual(["models/fast-model", "models/smart-model", "models/gemini-model", "models/openai-embed", "models/gemini-embed"]);
    const { json } = await admin<GeneratedKey>(setup.gateway.baseUrl, "POST", "/key/generate", { models: ["smart-model"] });
    expect(await names(json.key)).toEqual(["models/smart-model"]);
    expect(await gemini().models.get({ model: "fast-model" })).toMatchObject({ name: "models/fast-model", supportedActions: expect.arrayContaining(["generateContent"]) });
    await expect(gemini(json.key).models.get({ model: "fast-model" })).rejects.toMatchObject({ status: 404 });
  });

  it("counts tokens, checks the key's models, and answers errors in Google's shape", async () => {
    const counted = await gemini().models.countTokens({ model: "fast-model", contents: "count these four words" });
    expect(counted.totalTokens).toBeGreaterThan(0);
    const { json } = await admin<GeneratedKey>(setup.gateway.baseUrl, "POST", "/key/generate", { models: ["fast-model"] });
    expect((await gemini(json.key).models.generateContent({ model: "fast-model", contents: "allowed" })).text).toBe("Echo: allowed");
    const before = provider().requests.filter((r) => r.path === "/v1/chat/completions").length;
    for (const [key, model, status, method] of [
      [json.key, "smart-model", 401, "generateContent"],
      ["sk-not-a-key", "fast-model", 401, "generateContent"],
      [MASTER_KEY, "no-such-model", 400, "generateContent"],
      // Counting checks the model as a call does.
      [json.key, "smart-model", 401, "countTokens"],
      [MASTER_KEY, "no-such-model", 400, "countTokens"],
    ] as const) {
      const res = await fetch(`${setup.gateway.baseUrl}/v1beta/models/${model}:${method}?key=${key}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "refused" }] }] }),
      });
      expect(res.status, `${model}:${method}`).toBe(status);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ code: status, status: status === 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT" });
      expect(body.error["message"]).toEqual(expect.any(String));
    }
    // The key is checked before the body, for a count as for a call: a bad key with no contents is a 401.
    for (const method of ["generateContent", "countTokens"]) {
      const res = await fetch(`${setup.gateway.baseUrl}/v1beta/models/fast-model:${method}?key=sk-not-a-key`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({}),
      });
      expect(res.status, method).toBe(401);
    }
    // An info_routes key may look models up, not call them; llm_api_routes holds these routes.
    for (const [allowed, works] of [["info_routes", false], ["llm_api_routes", true]] as const) {
      const limited = await admin<GeneratedKey>(setup.gateway.baseUrl, "POST", "/key/generate", { allowed_routes: [allowed] });
      const asked = gemini(limited.json.key).models.generateContent({ model: "fast-model", contents: "routes" });
      if (works) expect((await asked).text).toBe("Echo: routes");
      else await expect(asked).rejects.toMatchObject({ status: 403 });
    }
    const empty = await fetch(`${setup.gateway.baseUrl}/v1beta/models/fast-model:generateContent`, {
      method: "POST",
      headers: { "x-goog-api-key": MASTER_KEY, "content-type": "application/json" },
      body: JSON.stringify({ contents: [] }),
    });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toContain("contents");
    expect(provider().requests.filter((r) => r.path === "/v1/chat/completions")).toHaveLength(before + 1);
  });
});
