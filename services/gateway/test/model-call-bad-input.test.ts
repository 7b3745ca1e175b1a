import { generateKeyPairSync } from "node:crypto";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, fakeBehindGatewayPerTest, type ModeGateway } from "./support/modes.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";
import { vertexServiceAccount } from "./support/vertex.js";

// Input to the model-call routes that once held the gateway up or broke it
// for other clients. Each test drives the gateway over HTTP in front of the
// fake provider, then checks it still answers a plain request.

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** A Vertex AI text embedding deployment (768 values a vector) on the fake, with a service account whose token the fake hands out. */
function vertexConfig(fakeUrl: string): string {
  const serviceAccount = vertexServiceAccount(fakeUrl, privateKey);
  return writeConfig(`
model_list:
  - model_name: embed-vertex
    litellm_params: { model: vertex_ai/text-embedding-005, api_base: ${fakeUrl}, vertex_credentials: '${serviceAccount}' }
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

/** An OpenAI deployment and a Bedrock Converse one on the fake. */
function bedrockConfig(fakeUrl: string): string {
  return writeConfig(`
model_list:
  - model_name: gpt
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: llama-bedrock
    litellm_params: { model: bedrock/converse/meta.llama3-70b-instruct-v1:0, api_base: ${fakeUrl}, api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
}

describe("bad input to the model-call routes", () => {
  describe(`${MODES[1]!.name}`, () => {
    let provider: FakeProvider;
    let gateway: ModeGateway;
    let client: OpenAI;
    fakeBehindGatewayPerTest(MODES[1]!, vertexConfig, (setup) => ({ provider, gateway, openai: client } = setup));

    it("refuses an embeddings call of more than 2048 texts, as OpenAI does, before calling the provider", async () => {
      // Vertex's gemini-embedding and Bedrock's Titan take one text a call:
      // a body of short texts was a provider call for each, for hours.
      const refused = await client.embeddings.create({ model: "embed-vertex", input: Array.from({ length: 2049 }, () => "a") }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
      expect((refused as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ type: "invalid_request_error", param: "input", message: expect.stringMatching(/at most 2048 texts/) });
      expect(provider.requests.filter((request) => request.path.endsWith(":predict"))).toEqual([]);
      const answer = await client.embeddings.create({ model: "embed-vertex", input: Array.from({ length: 2048 }, () => "a") });
      expect(answer.data).toHaveLength(2048);
    });

    it("refuses a token cap or answer count that is not a whole number of 1 or more, before the provider, and takes one past a uint32", async () => {
      const asked = provider.requests.length;
      const bad: [Record<string, unknown>, string][] = [
        [{ max_tokens: 0 }, "max_tokens"],
        [{ max_tokens: -1 }, "max_tokens"],
        [{ max_tokens: 1.5 }, "max_tokens"],
        [{ max_completion_tokens: "10" }, "max_completion_tokens"],
        [{ n: 0 }, "n"],
      ];
      for (const [fields, param] of bad) {
        const refused = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "hi" }], ...fields } as OpenAI.ChatCompletionCreateParamsNonStreaming).catch((err: unknown) => err);
        expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
        expect((refused as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ type: "invalid_request_error", param, message: `${param} must be a whole number, 1 or more` });
      }
      const messages = await fetch(`${gateway.baseUrl}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt", max_tokens: 0, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(messages.status).toBe(400);
      expect(await messages.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: "max_tokens must be a whole number, 1 or more" } });
      expect(provider.requests.length).toBe(asked);
      // A cap past a uint32 (the reservation's field between the services)
      // counts as the most there is: 2^32 + 1 kept its low bits, one token,
      // whose reservation a $1 budget let through.
      const { json: key } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { max_budget: 1 });
      const asKey = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: key.key, maxRetries: 0 });
      const past = await asKey.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "hi" }], max_tokens: 2 ** 32 + 1 }).catch((err: unknown) => err);
      expect(past).toBeInstanceOf(OpenAI.BadRequestError);
      expect((past as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ type: "budget_exceeded" });
      expect(provider.requests.length).toBe(asked);
      const within = await asKey.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "small cap" }], max_tokens: 100 });
      expect(within.choices[0]!.message.content).toBe("Echo: small cap");
    });

    it("answers an embeddings call whose answer runs to tens of megabytes, and goes on serving", async () => {
      // 2000 texts of 768 values as JSON numbers: about 30 MB from the router
      // to the edge, in some 2000 HTTP/2 frames. Joining each frame to the
      // ones before took the edge's CPU for most of a minute: past the
      // request's own timeout here, where it now takes seconds.
      const input = Array.from({ length: 2000 }, (_, i) => `text number ${i}`);
      const res = await fetch(`${gateway.baseUrl}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "embed-vertex", input, encoding_format: "float" }),
        signal: AbortSignal.timeout(25_000),
      });
      const answer = (await res.json()) as OpenAI.CreateEmbeddingResponse;
      expect(res.status).toBe(200);
      expect(answer.data).toHaveLength(2000);
      expect(answer.data[1999]).toMatchObject({ index: 1999 });
      expect(answer.data[1999]!.embedding).toHaveLength(768);
      const plain = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "still here" }] });
      expect(plain.choices[0]!.message.content).toBe("Echo: still here");
    });

    it("answers other clients' calls while a request or answer of tens of megabytes is on its way between the services", async () => {
      // Each connection between the services refused new calls while it held
      // more than Node's default 10 MB: a 25 MB prompt (and the fake's echo
      // of it) on the edge's connection to the router, or a 30 MB answer,
      // turned others' calls into 503s until it had passed.
      const big = [
        client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "x".repeat(25 * 2 ** 20) }] }, { timeout: 25_000 }),
        fetch(`${gateway.baseUrl}/v1/embeddings`, {
          method: "POST",
          headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "embed-vertex", input: Array.from({ length: 2000 }, (_, i) => `text number ${i}`), encoding_format: "float" }),
          signal: AbortSignal.timeout(25_000),
        }),
      ];
      let done = false;
      void Promise.allSettled(big).then(() => (done = true));
      const statuses: number[] = [];
      while (!done) {
        const res = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt", messages: [{ role: "user", content: "small" }] }),
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      const [chat, embeddings] = await Promise.all(big);
      expect((chat as OpenAI.ChatCompletion).choices[0]!.message.content).toHaveLength(6 + 25 * 2 ** 20);
      expect((embeddings as Response).status).toBe(200);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
    });
  });

  describe("a gateway process", () => {
    // Its own process, so a request that holds its event loop cannot hold
    // the test's clock too, and the test's timeout sees it.
    const processes = new ProcessGroup();
    let provider: FakeProvider;
    let gateway: GatewayProcess;
    beforeAll(async () => {
      provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
      gateway = await processes.start("all", { configPath: bedrockConfig(provider.url), env: { FAKE_PROVIDER_KEY: PROVIDER_KEY } });
    });
    afterAll(async () => {
      await processes.close();
      await provider?.close();
    });

    it("answers at once a provider error that quotes back a long value of the client's, and goes on serving", async () => {
      // Bedrock's validation errors quote the value they refuse. Looking for
      // a masked key in that text tried a pattern from each of its characters
      // to the end of the word: half a megabyte of role held the gateway's
      // event loop for minutes, every other client's call with it.
      const role = "x".repeat(2 ** 19);
      const res = await fetch(`${gateway.url}/v1/messages`, {
        method: "POST",
        headers: { "x-api-key": MASTER_KEY, "content-type": "application/json" },
        body: JSON.stringify({ model: "llama-bedrock", max_tokens: 10, messages: [{ role, content: "hi" }] }),
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { type: string; message: string } };
      expect(error.type).toBe("invalid_request_error");
      // Scrubbed whole, then cut to the 2000 characters any provider's error message is.
      const quoted = `1 validation error detected: Value '${role}' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]`;
      expect(error.message).toBe(`bedrock error: ${quoted.slice(0, 2000)}`);
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      const plain = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "still here" }] });
      expect(plain.choices[0]!.message.content).toBe("Echo: still here");
    });

    it("answers a /v1/responses call of tens of thousands of function calls in one turn to a translated deployment, and goes on serving", async () => {
      // Each function_call item joined the assistant message before it by
      // copying that message's tool calls: 20,000 calls held the event loop
      // past the request's timeout.
      const calls = Array.from({ length: 50_000 }, (_, i) => ({ type: "function_call", call_id: `call_${i}`, name: "lookup", arguments: "{}" }));
      const outputs = calls.map(({ call_id }) => ({ type: "function_call_output", call_id, output: "found" }));
      const res = await fetch(`${gateway.url}/v1/responses`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "llama-bedrock",
          input: [{ role: "user", content: "look them up" }, ...calls, ...outputs, { role: "user", content: "and now?" }],
          tools: [{ type: "function", name: "lookup", parameters: { type: "object" } }],
        }),
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ status: "completed", output: [{ type: "message", content: [{ type: "output_text", text: "Echo: and now?" }] }] });
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      const plain = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "still here" }] });
      expect(plain.choices[0]!.message.content).toBe("Echo: still here");
    });

    it("answers a generateContent call of tens of thousands of function calls in one turn to a translated deployment, and goes on serving", async () => {
      // Each functionCall part joined the ids of the function's unanswered
      // calls by copying them: 30,000 calls held the event loop past the
      // request's timeout.
      const calls = Array.from({ length: 50_000 }, () => ({ functionCall: { name: "lookup", args: {} } }));
      const answers = calls.map(() => ({ functionResponse: { name: "lookup", response: { found: true } } }));
      const res = await fetch(`${gateway.url}/v1beta/models/llama-bedrock:generateContent`, {
        method: "POST",
        headers: { "x-goog-api-key": MASTER_KEY, "content-type": "application/json" },
        body: JSON.stringify({
          contents: [{ role: "user", parts: [{ text: "look them up" }] }, { role: "model", parts: calls }, { role: "user", parts: answers }, { role: "user", parts: [{ text: "and now?" }] }],
          tools: [{ functionDeclarations: [{ name: "lookup" }] }],
        }),
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ candidates: [{ content: { role: "model", parts: [{ text: "Echo: and now?" }] } }] });
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
      const plain = await client.chat.completions.create({ model: "gpt", messages: [{ role: "user", content: "still here" }] });
      expect(plain.choices[0]!.message.content).toBe("Echo: still here");
    });
  });
});
