import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { embed, startFakeProvider, type FakeProvider } from "../src/index.js";

const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
const REFRESH_TOKEN = "1//refresh-test";
const serviceAccount = generateKeyPairSync("rsa", { modulusLength: 2048 });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });

const GEMINI = "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash";
const CLAUDE = "/v1/projects/test-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514";
const TEXT_EMBEDDING = "/v1/projects/test-project/locations/us-central1/publishers/google/models/text-embedding-005";
const GEMINI_EMBEDDING = "/v1/projects/test-project/locations/us-central1/publishers/google/models/gemini-embedding-001";

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({
    behavior: { requireApiKey: REFRESH_TOKEN, serviceAccountPublicKey: serviceAccount.publicKey.export({ type: "spki", format: "pem" }).toString() },
  });
});

afterEach(async () => {
  await provider.close();
});

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A service account's assertion for the fake's token endpoint, signed with `key`; `claims` override the valid ones. */
function assertion(claims: Record<string, unknown> = {}, key: KeyObject = serviceAccount.privateKey): string {
  const iat = Math.floor(Date.now() / 1000);
  const all = { iss: "gateway@test-project.iam.gserviceaccount.com", scope: CLOUD_PLATFORM, aud: `${provider.url}/token`, iat, exp: iat + 3600, ...claims };
  const signed = `${encode({ alg: "RS256", typ: "JWT", kid: "key-1" })}.${encode(all)}`;
  return `${signed}.${sign("RSA-SHA256", Buffer.from(signed), key).toString("base64url")}`;
}

function tokenRequest(form: Record<string, string>): Promise<Response> {
  return fetch(`${provider.url}/token`, { method: "POST", body: new URLSearchParams(form) });
}

const jwtGrant = (jwt: string) => tokenRequest({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: jwt });

async function accessToken(): Promise<string> {
  const res = await jwtGrant(assertion());
  return ((await res.json()) as { access_token: string }).access_token;
}

function post(path: string, body: unknown, token: string | undefined): Promise<Response> {
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return fetch(`${provider.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(body) });
}

const hello = { contents: [{ role: "user", parts: [{ text: "hello there" }] }] };
const claudeHello = { anthropic_version: "vertex-2023-10-16", max_tokens: 100, messages: [{ role: "user", content: "hello there world" }] };

describe("google token endpoint", () => {
  it("exchanges a JWT signed by the service account's key for an access token, and counts the tokens", async () => {
    const res = await jwtGrant(assertion());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ access_token: "ya29.fake-1", expires_in: 3599, token_type: "Bearer" });
    expect(provider.tokensIssued).toBe(1);
    expect(await accessToken()).toBe("ya29.fake-2");
    expect(provider.tokensIssued).toBe(2);
  });

  it("refuses a JWT signed by another key, for another audience, living over an hour, or without the cloud-platform scope", async () => {
    const forged = await jwtGrant(assertion({}, stranger.privateKey));
    expect(forged.status).toBe(400);
    expect(await forged.json()).toEqual({ error: "invalid_grant", error_description: "Invalid JWT Signature." });
    const iat = Math.floor(Date.now() / 1000);
    for (const claims of [{ aud: "https://oauth2.googleapis.com/token" }, { iat, exp: iat + 3601 }, { scope: "https://www.googleapis.com/auth/userinfo.email" }]) {
      const refused = await jwtGrant(assertion(claims));
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: "invalid_grant" });
    }
    expect(provider.tokensIssued).toBe(0);
  });

  it("exchanges an authorized user's refresh token when it is the required one", async () => {
    const user = { grant_type: "refresh_token", client_id: "client.apps.googleusercontent.com", client_secret: "secret" };
    const granted = await tokenRequest({ ...user, refresh_token: REFRESH_TOKEN });
    expect(await granted.json()).toEqual({ access_token: "ya29.fake-1", expires_in: 3599, token_type: "Bearer" });
    const refused = await tokenRequest({ ...user, refresh_token: "1//someone-else" });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: "invalid_grant", error_description: "Bad Request" });
  });

  it("gives the workload's token from the metadata server's path, to callers that send Metadata-Flavor: Google", async () => {
    const path = `${provider.url}/computeMetadata/v1/instance/service-accounts/default/token`;
    const refused = await fetch(path);
    expect(refused.status).toBe(403);
    const res = await fetch(path, { headers: { "metadata-flavor": "Google" } });
    expect(res.status).toBe(200);
    const { access_token, expires_in, token_type } = (await res.json()) as { access_token: string; expires_in: number; token_type: string };
    expect({ expires_in, token_type }).toEqual({ expires_in: 3599, token_type: "Bearer" });
    expect(provider.tokensIssued).toBe(1);
    expect((await post(`${GEMINI}:generateContent`, hello, access_token)).status).toBe(200);
  });

  it("quotes a JWT's alg that is an object whose toString is not a function as JSON in its 400", async () => {
    const res = await jwtGrant(`${encode({ alg: { toString: 1 } })}.${encode({})}.c2ln`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_grant", error_description: 'Invalid JWT: alg must be RS256, not {"toString":1}.' });
  });

  it("refuses an unknown grant type", async () => {
    const res = await tokenRequest({ grant_type: "password" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "unsupported_grant_type", error_description: "Invalid grant_type: password" });
  });
});

describe("vertex ai", () => {
  it("answers Gemini's generateContent like the Gemini fake, for a live access token, under v1 and v1beta1", async () => {
    const token = await accessToken();
    const res = await post(`${GEMINI}:generateContent`, hello, token);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      candidates: [{ content: { role: "model", parts: [{ text: "Echo: hello there" }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 3, totalTokenCount: 5 },
      modelVersion: "gemini-2.5-flash",
      responseId: "fake-response-1",
    });
    const beta = await post(`${GEMINI.replace("/v1/", "/v1beta1/")}:generateContent`, hello, token);
    expect(await beta.json()).toMatchObject({ responseId: "fake-response-2" });
    expect(provider.tokensIssued).toBe(1);
  });

  it("streams Gemini with alt=sse as the Gemini fake does", async () => {
    const res = await post(`${GEMINI}:streamGenerateContent?alt=sse`, hello, await accessToken());
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text())
      .split("\r\n\r\n")
      .filter((frame) => frame !== "")
      .map((frame) => JSON.parse(frame.slice("data: ".length)));
    expect(events.map((e) => e.candidates[0].content.parts[0].text).join("")).toBe("Echo: hello there");
    expect(events.at(-1)).toMatchObject({ candidates: [{ finishReason: "STOP" }], usageMetadata: { promptTokenCount: 2, candidatesTokenCount: 3 } });
  });

  it("refuses no token, an unknown one and an expired one with Google's 401, and lets anyone in when no key is required", async () => {
    provider.behavior.accessTokenLifetimeSeconds = 0;
    const expired = await accessToken();
    const unauthenticated = {
      error: {
        code: 401,
        message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        status: "UNAUTHENTICATED",
      },
    };
    for (const token of [undefined, "ya29.made-up", expired]) {
      const res = await post(`${GEMINI}:generateContent`, hello, token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(unauthenticated);
    }
    expect((await post(`${CLAUDE}:rawPredict`, claudeHello, expired)).status).toBe(401);
    delete provider.behavior.requireApiKey;
    expect((await post(`${GEMINI}:generateContent`, hello, undefined)).status).toBe(200);
  });

  it("answers Claude's rawPredict with an Anthropic message naming the path's model", async () => {
    const res = await post(`${CLAUDE}:rawPredict`, claudeHello, await accessToken());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: "msg_fake_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4@20250514",
      content: [{ type: "text", text: "Echo: hello there world" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 6, output_tokens: 4, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it("refuses a Claude body without Vertex's anthropic_version, or naming a model", async () => {
    const token = await accessToken();
    const { anthropic_version: _, ...unversioned } = claudeHello;
    const cases: [unknown, string][] = [
      [unversioned, "anthropic_version: Field required"],
      [{ ...claudeHello, anthropic_version: "2023-06-01" }, "anthropic_version: Input should be 'vertex-2023-10-16'"],
      [{ ...claudeHello, model: "claude-sonnet-4@20250514" }, "model: Extra inputs are not permitted"],
    ];
    for (const [body, message] of cases) {
      const res = await post(`${CLAUDE}:rawPredict`, body, token);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ type: "error", error: { type: "invalid_request_error", message } });
    }
  });

  it("streams Claude's streamRawPredict as Anthropic's events, message_start to message_stop", async () => {
    const res = await post(`${CLAUDE}:streamRawPredict`, { ...claudeHello, stream: true }, await accessToken());
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text())
      .split("\n\n")
      .filter((frame) => frame !== "")
      .map((frame) => JSON.parse(frame.split("\n")[1]!.slice("data: ".length)));
    expect(events.map((e) => e.type)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events[0].message.model).toBe("claude-sonnet-4@20250514");
    expect(events.slice(3, 7).map((e) => e.delta.text).join("")).toBe("Echo: hello there world");
  });

  it("injects failures in each publisher's error shape, never into the token endpoint", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const token = await accessToken();
    expect(provider.behavior.failNext).toBe(1);
    const limited = await post(`${GEMINI}:generateContent`, hello, token);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(await limited.json()).toMatchObject({ error: { code: 429, status: "RESOURCE_EXHAUSTED" } });
    Object.assign(provider.behavior, { failNext: 1, failStatus: 529 });
    const overloaded = await post(`${CLAUDE}:rawPredict`, claudeHello, token);
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({ type: "error", error: { type: "overloaded_error" } });
    expect((await post(`${CLAUDE}:rawPredict`, claudeHello, token)).status).toBe(200);
  });
});

describe("vertex ai embeddings", () => {
  type Predictions = { predictions: { embeddings: { values: number[] } }[] };

  it("answers :predict with a vector per instance of the asked size, its token count and the billable characters", async () => {
    const body = {
      instances: [{ content: "hello there", task_type: "RETRIEVAL_DOCUMENT", title: "Greeting" }, { content: "world" }],
      parameters: { outputDimensionality: 64, autoTruncate: false },
    };
    const res = await post(`${TEXT_EMBEDDING}:predict`, body, await accessToken());
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Predictions;
    expect(answer.predictions.map((p) => p.embeddings.values.length)).toEqual([64, 64]);
    expect(answer).toEqual({
      predictions: [
        { embeddings: { values: embed("hello there", 64), statistics: { token_count: 2, truncated: false } } },
        { embeddings: { values: embed("world", 64), statistics: { token_count: 1, truncated: false } } },
      ],
      metadata: { billableCharacterCount: 16 },
    });
  });

  it("sizes vectors by the model when not asked: 3072 for gemini-embedding-001, 768 for text-embedding-005, under v1beta1 too", async () => {
    const token = await accessToken();
    const instances = [{ content: "hello" }];
    const gemini = (await (await post(`${GEMINI_EMBEDDING.replace("/v1/", "/v1beta1/")}:predict`, { instances }, token)).json()) as Predictions;
    expect(gemini.predictions[0]!.embeddings.values).toHaveLength(3072);
    const text = (await (await post(`${TEXT_EMBEDDING}:predict`, { instances }, token)).json()) as Predictions;
    expect(text.predictions[0]!.embeddings.values).toHaveLength(768);
  });

  it("refuses no instances, an instance without string content, an unknown parameter, a size past the model's and two instances for gemini-embedding-001", async () => {
    const token = await accessToken();
    const cases: [string, unknown, RegExp][] = [
      [TEXT_EMBEDDING, {}, /instances/],
      [TEXT_EMBEDDING, { instances: [] }, /instances/],
      [TEXT_EMBEDDING, { instances: [{ content: "a" }, { text: "b" }] }, /instances\[1\]\.content/],
      [TEXT_EMBEDDING, { instances: [{ content: "a" }], parameters: { dimensions: 64 } }, /Unknown name "dimensions"/],
      [TEXT_EMBEDDING, { instances: [{ content: "a" }], parameters: { outputDimensionality: 769 } }, /outputDimensionality/],
      [GEMINI_EMBEDDING, { instances: [{ content: "a" }, { content: "b" }] }, /at most 1 instances/],
    ];
    for (const [model, body, message] of cases) {
      const res = await post(`${model}:predict`, body, token);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toEqual({ error: { code: 400, message: expect.stringMatching(message), status: "INVALID_ARGUMENT" } });
    }
  });

  it("wants a live access token while a key is required, and injects failures in Google's error shape", async () => {
    const body = { instances: [{ content: "hello" }] };
    const anonymous = await post(`${TEXT_EMBEDDING}:predict`, body, undefined);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    const token = await accessToken();
    Object.assign(provider.behavior, { failNext: 1, failStatus: 503 });
    const failed = await post(`${TEXT_EMBEDDING}:predict`, body, token);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: 503, status: "UNAVAILABLE" } });
    expect((await post(`${TEXT_EMBEDDING}:predict`, body, token)).status).toBe(200);
  });
});
