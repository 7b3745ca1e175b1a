import { createHash, createHmac } from "node:crypto";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embed, startFakeProvider, type FakeProvider } from "../src/index.js";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider();
});

afterEach(async () => {
  await provider.close();
});

const MODEL = "anthropic.claude-3-haiku-20240307-v1:0";
const modelPath = (model: string, operation = "converse") => `/model/${encodeURIComponent(model)}/${operation}`;

function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
}

const converse = (body: unknown, headers: Record<string, string> = {}) => post(modelPath(MODEL), JSON.stringify(body), headers);
const converseStream = (body: unknown) => post(modelPath(MODEL, "converse-stream"), JSON.stringify(body));

const TITAN_V1 = "amazon.titan-embed-text-v1";
const TITAN_V2 = "amazon.titan-embed-text-v2:0";
const COHERE = "cohere.embed-english-v3";
const invoke = (model: string, body: unknown, headers: Record<string, string> = {}) => post(modelPath(model, "invoke"), JSON.stringify(body), headers);

const hello = { system: [{ text: "two words" }], messages: [{ role: "user", content: [{ text: "hello there world" }] }] };
const weatherTool = { tools: [{ toolSpec: { name: "get_weather", description: "The weather", inputSchema: { json: { type: "object" } } } }] };
const askWeather = { messages: [{ role: "user", content: [{ text: "weather in Paris?" }] }], toolConfig: weatherTool };

interface Frame {
  headers: Record<string, string>;
  payload: any;
}

/** Reads AWS event-stream frames, checking both CRCs of each; headers must be strings (type 7). */
function decodeFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const total = bytes.readUInt32BE(offset);
    const headersLength = bytes.readUInt32BE(offset + 4);
    expect(bytes.readUInt32BE(offset + 8)).toBe(crc32(bytes.subarray(offset, offset + 8)));
    expect(bytes.readUInt32BE(offset + total - 4)).toBe(crc32(bytes.subarray(offset, offset + total - 4)));
    const headers: Record<string, string> = {};
    const end = offset + 12 + headersLength;
    let at = offset + 12;
    while (at < end) {
      const nameLength = bytes.readUInt8(at);
      const name = bytes.toString("utf8", at + 1, at + 1 + nameLength);
      at += 1 + nameLength;
      expect(bytes.readUInt8(at)).toBe(7);
      const valueLength = bytes.readUInt16BE(at + 1);
      headers[name] = bytes.toString("utf8", at + 3, at + 3 + valueLength);
      at += 3 + valueLength;
    }
    frames.push({ headers, payload: JSON.parse(bytes.toString("utf8", end, offset + total - 4)) });
    offset += total;
  }
  return frames;
}

async function frames(res: Response): Promise<Frame[]> {
  return decodeFrames(Buffer.from(await res.arrayBuffer()));
}

const eventTypes = (list: Frame[]) => list.map((frame) => frame.headers[":event-type"] ?? frame.headers[":exception-type"]);

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/**
 * The headers of a SigV4-signed Bedrock request, signed here independently:
 * the canonical URI is the sent path encoded once more (":" went as %3A, so
 * it is signed as %253A), unless `singleEncoded` signs the path as sent.
 */
function sign(path: string, body: string, secret: string, options: { singleEncoded?: boolean; contentSha?: boolean } = {}): Record<string, string> {
  const date = "20250102T030405Z";
  const signedValues: Record<string, string> = {
    "content-type": "application/json",
    host: new URL(provider.url).host,
    "x-amz-date": date,
    ...(options.contentSha && { "x-amz-content-sha256": sha256(body) }),
  };
  const names = Object.keys(signedValues).sort();
  const canonicalUri = options.singleEncoded ? path : path.split("/").map(encodeURIComponent).join("/");
  const canonicalRequest = ["POST", canonicalUri, "", names.map((name) => `${name}:${signedValues[name]}\n`).join(""), names.join(";"), sha256(body)].join("\n");
  const scope = `${date.slice(0, 8)}/us-east-1/bedrock/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), "us-east-1"), "bedrock"), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  const { host: _host, ...sent } = signedValues;
  return { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=AKIDFAKE/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}` };
}

describe("bedrock converse", () => {
  it("answers with the echo, its stop reason, usage and metrics", async () => {
    const res = await converse(hello);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      output: { message: { role: "assistant", content: [{ text: "Echo: hello there world" }] } },
      stopReason: "end_turn",
      usage: { inputTokens: 8, outputTokens: 4, totalTokens: 12 },
      metrics: { latencyMs: 0 },
    });
  });

  it("reports cache reads and writes outside inputTokens but inside totalTokens", async () => {
    Object.assign(provider.behavior, { cachedPromptTokens: 2, cacheWriteTokens: 1 });
    const body = (await (await converse(hello)).json()) as { usage: unknown };
    expect(body.usage).toEqual({ inputTokens: 5, outputTokens: 4, totalTokens: 12, cacheReadInputTokens: 2, cacheWriteInputTokens: 1 });
  });

  it("takes model ids percent-encoded in the path, ARNs included, and refuses an invalid one", async () => {
    const arn = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${MODEL}`;
    expect((await post(modelPath(arn), JSON.stringify(hello))).status).toBe(200);
    const bad = await post("/model/not%20a%20model/converse", JSON.stringify(hello));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ message: "The provided model identifier is invalid." });
    expect((await post(modelPath(MODEL, "invoke-something"), "{}")).status).toBe(404);
  });

  it("calls the first tool when asked about the weather, and answers the tool result with text", async () => {
    const call = await (await converse(askWeather)).json();
    expect(call).toMatchObject({
      output: { message: { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_fake_1", name: "get_weather", input: { location: "Paris" } } }] } },
      stopReason: "tool_use",
    });
    const result = await converse({
      toolConfig: weatherTool,
      messages: [
        ...askWeather.messages,
        { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_fake_1", name: "get_weather", input: { location: "Paris" } } }] },
        { role: "user", content: [{ toolResult: { toolUseId: "tooluse_fake_1", content: [{ json: { sky: "clear" } }], status: "success" } }] },
      ],
    });
    expect(await result.json()).toMatchObject({ output: { message: { content: [{ text: "Echo: weather in Paris?" }] } }, stopReason: "end_turn" });
  });

  it("truncates at maxTokens and stops at a stop sequence", async () => {
    const cut = await (await converse({ ...hello, inferenceConfig: { maxTokens: 2 } })).json();
    expect(cut).toMatchObject({ output: { message: { content: [{ text: "Echo: hello" }] } }, stopReason: "max_tokens", usage: { outputTokens: 2 } });
    const stopped = await (await converse({ ...hello, inferenceConfig: { stopSequences: ["there"], temperature: 0.5 } })).json();
    expect(stopped).toMatchObject({ output: { message: { content: [{ text: "Echo: hello " }] } }, stopReason: "stop_sequence" });
  });

  it("refuses what Bedrock refuses with a ValidationException", async () => {
    const user = { role: "user", content: [{ text: "hi" }] };
    const assistant = { role: "assistant", content: [{ text: "hello" }] };
    const cases: [unknown, RegExp][] = [
      [{ ...hello, model: MODEL }, /extraneous key \[model\]/],
      [{ messages: [] }, /must start with a user message/],
      [{}, /'messages' failed to satisfy constraint/],
      [{ messages: [assistant, user] }, /must start with a user message/],
      [{ messages: [user, user] }, /must alternate between user and assistant/],
      [{ messages: [user, assistant, assistant] }, /must alternate between user and assistant/],
      [{ messages: [{ role: "system", content: [{ text: "x" }] }] }, /Member must satisfy enum value set: \[user, assistant\]/],
      [{ messages: [{ role: "user", content: "hi" }] }, /content field in the Message object at messages.0 is empty/],
      [{ messages: [{ role: "user", content: [] }] }, /content field in the Message object at messages.0 is empty/],
      [{ messages: [{ role: "user", content: [{ text: "a", image: {} }] }] }, /exactly one of the following fields/],
      [{ messages: [{ role: "user", content: [{ type: "text", text: "a" }] }] }, /exactly one of the following fields/],
      [{ ...hello, inferenceConfig: { maxTokens: 5, topK: 3 } }, /extraneous key \[inferenceConfig.topK\]/],
      [{ ...hello, inferenceConfig: { maxTokens: 0 } }, /inferenceConfig.maxTokens/],
      // Objects whose toString is not a function, quoted as JSON.
      [{ messages: [{ role: { toString: 1 }, content: [{ text: "x" }] }] }, /^1 validation error detected: Value '\{"toString":1\}' at 'messages.1.member.role'/],
      [{ ...hello, inferenceConfig: { maxTokens: { toString: 1 } } }, /Value '\{"toString":1\}' at 'inferenceConfig.maxTokens'/],
      [
        { messages: [user, { role: "assistant", content: [{ toolUse: { toolUseId: "t", name: "w", input: {} } }] }, user] },
        /^The toolConfig field must be defined when using toolUse and toolResult content blocks\.$/,
      ],
      [{ messages: [{ role: "user", content: [{ toolResult: { toolUseId: "t", content: [{ text: "sunny" }] } }] }] }, /toolConfig field must be defined/],
    ];
    for (const [body, message] of cases) {
      const res = await converse(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("x-amzn-errortype")).toBe("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/");
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
    const notJson = await post(modelPath(MODEL), "{not json");
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get("x-amzn-errortype")).toMatch(/^ValidationException:/);
    expect(await notJson.json()).toEqual({ message: expect.any(String) });
  });

  it("fails as told: a 429 ThrottlingException with retry-after", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 3 });
    const res = await converse(hello);
    expect(res.status).toBe(429);
    expect(res.headers.get("x-amzn-errortype")).toBe("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toEqual({ message: expect.stringContaining("429") });
    expect((await converse(hello)).status).toBe(200);
  });
});

describe("bedrock converse-stream", () => {
  it("streams event-stream frames whose text deltas join to the non-stream answer, then usage", async () => {
    const whole = (await (await converse(hello)).json()) as { output: { message: { content: { text: string }[] } }; usage: unknown };
    const res = await converseStream(hello);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/vnd.amazon.eventstream");
    const list = await frames(res);
    for (const frame of list) expect(frame.headers).toMatchObject({ ":content-type": "application/json", ":message-type": "event" });
    expect(eventTypes(list)).toEqual([
      "messageStart",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    expect(list[0]!.payload).toEqual({ role: "assistant" });
    const deltas = list.filter((frame) => frame.headers[":event-type"] === "contentBlockDelta");
    for (const delta of deltas) expect(delta.payload.contentBlockIndex).toBe(0);
    expect(deltas.map((frame) => frame.payload.delta.text).join("")).toBe(whole.output.message.content[0]!.text);
    expect(list[5]!.payload).toEqual({ contentBlockIndex: 0 });
    expect(list[6]!.payload).toEqual({ stopReason: "end_turn" });
    expect(list[7]!.payload).toEqual({ usage: whole.usage, metrics: { latencyMs: 0 } });
    expect(list[7]!.payload.usage).toEqual({ inputTokens: 8, outputTokens: 4, totalTokens: 12 });
  });

  it("calls the tool toolChoice forces with an input made from its schema, whole and streamed", async () => {
    const schema = { type: "object", properties: { city: { type: "string" }, coastal: { type: ["boolean", "null"] } }, required: ["city", "coastal"] };
    const toolConfig = { tools: [...weatherTool.tools, { toolSpec: { name: "answer", inputSchema: { json: schema } } }], toolChoice: { tool: { name: "answer" } } };
    const body = { messages: [{ role: "user", content: [{ text: "a city?" }] }], toolConfig };
    expect(await (await converse(body)).json()).toMatchObject({
      output: { message: { content: [{ toolUse: { name: "answer", input: { city: "example", coastal: true } } }] } },
      stopReason: "tool_use",
    });
    const list = await frames(await converseStream(body));
    const input = list.filter((frame) => eventTypes([frame])[0] === "contentBlockDelta").map((frame) => frame.payload.delta.toolUse.input as string);
    expect(JSON.parse(input.join(""))).toEqual({ city: "example", coastal: true });
  });

  it("streams a tool call: contentBlockStart, its input JSON in two pieces, tool_use", async () => {
    const list = await frames(await converseStream(askWeather));
    expect(eventTypes(list)).toEqual(["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"]);
    expect(list[1]!.payload).toEqual({ contentBlockIndex: 0, start: { toolUse: { toolUseId: "tooluse_fake_1", name: "get_weather" } } });
    const input = list.slice(2, 4).map((frame) => frame.payload.delta.toolUse.input as string);
    expect(input.every((piece) => piece.length > 0)).toBe(true);
    expect(JSON.parse(input.join(""))).toEqual({ location: "Paris" });
    expect(list[5]!.payload).toEqual({ stopReason: "tool_use" });
  });

  it("ends with an exception frame after the 200 when told to", async () => {
    Object.assign(provider.behavior, { streamErrorAfterChunks: 1 });
    const res = await converseStream(hello);
    expect(res.status).toBe(200);
    const list = await frames(res);
    expect(eventTypes(list)).toEqual(["messageStart", "contentBlockDelta", "throttlingException"]);
    expect(list[2]!.headers).toEqual({ ":exception-type": "throttlingException", ":content-type": "application/json", ":message-type": "exception" });
    expect(list[2]!.payload).toEqual({ message: expect.any(String) });
    provider.behavior.streamErrorType = "modelStreamErrorException";
    expect(eventTypes(await frames(await converseStream(hello))).at(-1)).toBe("modelStreamErrorException");
  });

  it("drops the connection after the configured number of deltas", async () => {
    provider.behavior.breakStreamAfterChunks = 2;
    const res = await converseStream(hello);
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });
});

describe("bedrock invoke (embeddings)", () => {
  it("embeds with Titan v2 at the asked size, the input's tokens in the body and a header, the same text the same vector", async () => {
    const res = await invoke(TITAN_V2, { inputText: "hello there world", dimensions: 256, normalize: true, embeddingTypes: ["float"] });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-amzn-bedrock-input-token-count")).toBe("3");
    const body = (await res.json()) as { embedding: number[] };
    expect(body.embedding).toHaveLength(256);
    expect(body).toEqual({ embedding: embed("hello there world", 256), inputTextTokenCount: 3, embeddingsByType: { float: body.embedding } });
    const again = (await (await invoke(TITAN_V2, { inputText: "hello there world", dimensions: 256 })).json()) as { embedding: number[] };
    expect(again.embedding).toEqual(body.embedding);
    const other = (await (await invoke(TITAN_V2, { inputText: "goodbye", dimensions: 256 })).json()) as { embedding: number[] };
    expect(other.embedding).not.toEqual(body.embedding);
    const whole = (await (await invoke(TITAN_V2, { inputText: "hello" })).json()) as { embedding: number[] };
    expect(whole.embedding).toHaveLength(1024);
  });

  it("embeds with Titan v1 at its 1536 values, taking inputText alone", async () => {
    const res = await invoke(TITAN_V1, { inputText: "hi there" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-amzn-bedrock-input-token-count")).toBe("2");
    const body = (await res.json()) as { embedding: number[] };
    expect(body.embedding).toHaveLength(1536);
    expect(body).toEqual({ embedding: embed("hi there", 1536), inputTextTokenCount: 2 });
    const refused = await invoke(TITAN_V1, { inputText: "hi", dimensions: 256 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/extraneous key \[dimensions\]/);
  });

  it("embeds each Cohere text, their tokens only in the header, by type when embedding_types asks", async () => {
    const texts = ["hello there", "world"];
    const res = await invoke(COHERE, { texts, input_type: "search_document", truncate: "END" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-amzn-bedrock-input-token-count")).toBe("3");
    const vectors = texts.map((text) => embed(text, 1024));
    expect(await res.json()).toEqual({ embeddings: vectors, id: expect.any(String), response_type: "embeddings_floats", texts });
    const byType = await invoke(COHERE, { texts, input_type: "search_query", embedding_types: ["float"] });
    expect(await byType.json()).toEqual({ embeddings: { float: vectors }, id: expect.any(String), response_type: "embeddings_by_type", texts });
  });

  it("refuses what Bedrock refuses with a ValidationException, and models that embed nothing", async () => {
    const cases: [string, unknown, RegExp][] = [
      [COHERE, { texts: ["a"] }, /required key \[input_type\] not found/],
      [
        COHERE,
        { texts: ["a"], input_type: "search_document", model: COHERE },
        /^Malformed input request: extraneous key \[model\] is not permitted, please reformat your input and try again\.$/,
      ],
      [COHERE, { input_type: "search_query" }, /required key \[texts\] not found/],
      [COHERE, { texts: [], input_type: "search_query" }, /minimum item count: 1/],
      [COHERE, { texts: Array.from({ length: 97 }, () => "a"), input_type: "search_query" }, /maximum item count: 96/],
      [COHERE, { texts: ["a", 1], input_type: "search_query" }, /#\/texts\/1: expected type: String/],
      [COHERE, { texts: ["a"], input_type: "query" }, /#\/input_type: "query" is not a valid enum value/],
      [COHERE, { texts: ["a"], input_type: "clustering", truncate: "MIDDLE" }, /#\/truncate/],
      [COHERE, { texts: ["a"], input_type: "classification", embedding_types: ["int8"] }, /#\/embedding_types/],
      [TITAN_V2, { inputText: "a", extra: 1 }, /extraneous key \[extra\]/],
      [TITAN_V2, {}, /required key \[inputText\] not found/],
      [TITAN_V2, { inputText: 5 }, /#\/inputText: expected type: String/],
      [TITAN_V2, { inputText: "" }, /#\/inputText: expected minLength: 1/],
      [TITAN_V2, { inputText: "a", dimensions: 300 }, /#\/dimensions: 300 is not a valid enum value/],
      [TITAN_V2, { inputText: "a", normalize: "yes" }, /#\/normalize/],
      [TITAN_V2, { inputText: "a", embeddingTypes: ["binary"] }, /#\/embeddingTypes/],
      [MODEL, hello, /embedding models only/],
    ];
    for (const [model, body, message] of cases) {
      const res = await invoke(model, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("x-amzn-errortype")).toBe("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/");
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
  });

  it("fails as told, as converse does", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 3 });
    const res = await invoke(TITAN_V2, { inputText: "hello" });
    expect(res.status).toBe(429);
    expect(res.headers.get("x-amzn-errortype")).toMatch(/^ThrottlingException:/);
    expect(res.headers.get("retry-after")).toBe("3");
    expect((await invoke(TITAN_V2, { inputText: "hello" })).status).toBe(200);
  });
});

describe("bedrock auth", () => {
  const secret = "fake/Secret+Access/Key";

  beforeEach(() => {
    provider.behavior.requireApiKey = secret;
  });

  it("takes a Bedrock API key as bearer token and refuses a wrong one or none", async () => {
    expect((await converse(hello, { authorization: `Bearer ${secret}` })).status).toBe(200);
    const wrong = await converse(hello, { authorization: "Bearer nope" });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get("x-amzn-errortype")).toMatch(/^UnrecognizedClientException:/);
    expect(await wrong.json()).toEqual({ message: expect.stringMatching(/^Authentication failed/) });
    expect((await converse(hello)).status).toBe(403);
  });

  it("verifies a SigV4 signature over the double-encoded path, the signed headers and the body", async () => {
    const path = modelPath(MODEL);
    expect(path).toContain("%3A");
    const body = JSON.stringify(hello);
    expect((await post(path, body, sign(path, body, secret))).status).toBe(200);
    expect((await post(path, body, sign(path, body, secret, { contentSha: true }))).status).toBe(200);
    const streamPath = modelPath(MODEL, "converse-stream");
    const streamed = await post(streamPath, body, sign(streamPath, body, secret));
    expect(streamed.status).toBe(200);
    expect(eventTypes(await frames(streamed)).at(-1)).toBe("metadata");
  });

  it("wants the API key or a SigV4 signature on /invoke too", async () => {
    const path = modelPath(TITAN_V2, "invoke");
    const body = JSON.stringify({ inputText: "hello" });
    const missing = await post(path, body);
    expect(missing.status).toBe(403);
    expect(missing.headers.get("x-amzn-errortype")).toMatch(/^MissingAuthenticationTokenException:/);
    expect((await post(path, body, { authorization: "Bearer nope" })).status).toBe(403);
    expect((await post(path, body, { authorization: `Bearer ${secret}` })).status).toBe(200);
    expect((await post(path, body, sign(path, body, secret))).status).toBe(200);
    expect((await post(path, body, sign(path, body, "not-the-secret"))).status).toBe(403);
  });

  it("refuses a tampered body, a wrong secret, a single-encoded path or a mismatched content hash with a 403", async () => {
    const path = modelPath(MODEL);
    const body = JSON.stringify(hello);
    const tampered = JSON.stringify({ ...hello, system: [{ text: "other words" }] });
    const refused = [
      await post(path, tampered, sign(path, body, secret)),
      await post(path, body, sign(path, body, "not-the-secret")),
      await post(path, body, sign(path, body, secret, { singleEncoded: true })),
      await post(path, tampered, sign(path, body, secret, { contentSha: true })),
    ];
    for (const res of refused) {
      expect(res.status).toBe(403);
      expect(res.headers.get("x-amzn-errortype")).toMatch(/^InvalidSignatureException:/);
      expect(((await res.json()) as { message: string }).message).toMatch(/^The request signature we calculated does not match the signature you provided/);
    }
  });
});
