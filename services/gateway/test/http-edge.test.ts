import { request } from "node:http";
import { connect } from "node:net";
import Anthropic, { type APIError } from "@anthropic-ai/sdk";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin, type GeneratedKey } from "./support/admin.js";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, startInMode, type ModeGateway } from "./support/modes.js";

// What the edge makes of requests at the HTTP level: bodies over the limit,
// requests Node's parser refuses, how the key is sent, and the model routes.
const mode = MODES[2]!;

// 64 KiB, so a test goes over it quickly.
const LIMIT_BYTES = 65_536;

interface RawAnswer {
  status: number;
  head: string;
  body: string;
}

function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  return { status: Number(text.split(" ")[1]), head: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) };
}

describe("the HTTP edge", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let port: number;
  let client: OpenAI;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider();
    const config = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: openai/gpt-4o
    litellm_params: { model: openai/gpt-4o, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
general_settings:
  master_key: ${MASTER_KEY}
  max_request_size_mb: ${LIMIT_BYTES / 2 ** 20}
`);
    gateway = await startInMode(mode, config);
    port = Number(new URL(gateway.baseUrl).port);
    client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await provider?.close();
  });

  const stillServing = async () => {
    const ok = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "still there?" }] });
    expect(ok.choices[0]?.message.content).toBe("Echo: still there?");
  };

  /** Sends `text` on a connection of its own; what comes back until the gateway closes it. */
  const exchange = (text: string) =>
    new Promise<RawAnswer>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      let received = "";
      socket.on("data", (data) => (received += data.toString()));
      socket.on("error", reject);
      socket.on("close", () => resolve(parseAnswer(received)));
      socket.end(text);
    });

  describe("a chunked body over the limit", () => {
    it("gets the OpenAI-style 413 and connection: close, and the gateway keeps serving", async () => {
      const answer = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        const req = request({
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/v1/chat/completions",
          headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json", "transfer-encoding": "chunked" },
        });
        const chunk = Buffer.alloc(16_384, "x");
        let answered = false;
        // Sends until the answer comes, as a client streaming a large upload does.
        const send = () => {
          while (!answered) if (!req.write(chunk)) return void req.once("drain", send);
        };
        req.on("response", (res) => {
          answered = true;
          let body = "";
          res.on("data", (data: Buffer) => (body += data.toString()));
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body });
            req.destroy();
          });
        });
        req.on("error", reject);
        send();
      });
      expect(answer.status).toBe(413);
      expect(answer.connection).toBe("close");
      expect(JSON.parse(answer.body)).toEqual({
        error: { message: `request body is larger than ${LIMIT_BYTES} bytes`, type: "invalid_request_error", param: null, code: "413" },
      });
      await stillServing();
    });

    it("is answered, and then cut off, when the client never stops sending", async () => {
      const received = await new Promise<string>((resolve) => {
        const socket = connect(port, "127.0.0.1");
        let text = "";
        const chunk = `4000\r\n${"x".repeat(0x4000)}\r\n`;
        const send = () => {
          while (!socket.destroyed && !socket.writableEnded) if (!socket.write(chunk)) return void socket.once("drain", send);
        };
        socket.on("data", (data) => (text += data.toString()));
        // A write after the gateway closed fails; what counts is that it closes.
        socket.on("error", () => socket.destroy());
        socket.on("close", () => resolve(text));
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer ${MASTER_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`);
        send();
      });
      const answer = parseAnswer(received);
      expect(answer.status).toBe(413);
      expect(answer.head).toContain("connection: close");
      expect(JSON.parse(answer.body)).toMatchObject({ error: { type: "invalid_request_error", code: "413" } });
      await stillServing();
    });

    it("is answered to a client that sends all of it, some megabytes over, before it reads", async () => {
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let text = "";
        socket.pause();
        socket.on("data", (data) => (text += data.toString()));
        socket.on("error", reject);
        socket.on("close", () => resolve(text));
        socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer ${MASTER_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`);
        const chunk = `4000\r\n${"x".repeat(0x4000)}\r\n`;
        for (let sent = 0; sent < LIMIT_BYTES + 6 * 2 ** 20; sent += 0x4000) socket.write(chunk);
        socket.write("0\r\n\r\n", () => socket.resume());
      });
      expect(parseAnswer(received).status).toBe(413);
    });

    it("gets Anthropic's request_too_large on /v1/messages", async () => {
      const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
      const err = (await anthropic.messages
        .create({ model: "fast-model", max_tokens: 10, messages: [{ role: "user", content: "x".repeat(LIMIT_BYTES) }] })
        .catch((e: unknown) => e)) as APIError;
      expect(err.status).toBe(413);
      expect(err.error).toEqual({ type: "error", error: { type: "request_too_large", message: `request body is larger than ${LIMIT_BYTES} bytes` } });
    });
  });

  it("refuses a body nested more than 1000 deep with a 400 before parsing it, and takes brackets in strings", async () => {
    // JSON.parse takes a microsecond a level: 32 MiB of "[" held the event loop for twenty seconds.
    const deep = `{"model":"fast-model","messages":[{"role":"user","content":"hi"}],"metadata":{"a":${"[".repeat(30_000)}${"]".repeat(30_000)}}}`;
    const res = await fetch(`${gateway.baseUrl}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" }, body: deep });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "invalid_request_error", message: "request body is nested too deeply" } });
    const brackets = "[{".repeat(15_000);
    const ok = await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: brackets }] });
    expect(ok.choices[0]?.message.content).toBe(`Echo: ${brackets}`);
  });

  describe("a request Node's HTTP parser refuses", () => {
    it.each([
      ["headers too large", 431, `GET /v1/models HTTP/1.1\r\nHost: edge\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`],
      ["a garbage request line", 400, "HELLO THERE\r\n\r\n"],
      ["a Content-Length that is not a number", 400, "POST /v1/chat/completions HTTP/1.1\r\nHost: edge\r\nContent-Length: ten\r\n\r\n"],
    ])("with %s gets %i with an OpenAI-style error and connection: close", async (_, status, text) => {
      const answer = await exchange(text);
      expect(answer.status).toBe(status);
      expect(answer.head).toContain("connection: close");
      expect(answer.head).toContain("content-type: application/json");
      expect(JSON.parse(answer.body)).toEqual({ error: { message: expect.any(String), type: "invalid_request_error", param: null, code: String(status) } });
      await stillServing();
    });

    it.each([
      ["headers too large", 431, `POST /v1/messages HTTP/1.1\r\nHost: edge\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`],
      ["a control character in a header", 400, "POST /v1/messages?beta=true HTTP/1.1\r\nHost: edge\r\nAnthropic-Beta: a\u0001b\r\n\r\n"],
      ["a Content-Length that is not a number", 400, "POST /v1/messages/count_tokens HTTP/1.1\r\nHost: edge\r\nContent-Length: ten\r\n\r\n"],
    ])("to Anthropic's API, with %s, gets %i with an Anthropic-style error", async (_, status, text) => {
      const answer = await exchange(text);
      expect(answer.status).toBe(status);
      expect(answer.head).toContain("connection: close");
      expect(JSON.parse(answer.body)).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.any(String) } });
      await stillServing();
    });
  });

  it("lists its routes at /routes and answers /test, without a key, as LiteLLM does", async () => {
    const res = await fetch(`${gateway.baseUrl}/routes`);
    expect(res.status).toBe(200);
    const { routes } = (await res.json()) as { routes: { path: string; methods: string[]; name: string }[] };
    const byPath = new Map(routes.map((r) => [r.path, r]));
    expect(byPath.get("/v1/chat/completions")).toMatchObject({ methods: ["POST"], name: expect.any(String) });
    expect(byPath.get("/v1/files")?.methods.sort()).toEqual(["GET", "POST"]);
    expect(byPath.get("/key/{key}/regenerate")?.methods).toEqual(["POST"]);
    expect(routes).toHaveLength(byPath.size);
    expect(await (await fetch(`${gateway.baseUrl}/test`)).json()).toEqual({ route: "/test" });
  });

  it("takes the bearer scheme in any case, and a bare key", async () => {
    for (const authorization of [`bearer ${MASTER_KEY}`, `BEARER ${MASTER_KEY}`, MASTER_KEY]) {
      const res = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }),
      });
      expect(res.status).toBe(200);
    }
  });

  describe("GET /v1/models/{model}", () => {
    it("answers one model, by a name that may hold a slash, escaped or not", async () => {
      expect(await client.models.retrieve("fast-model")).toEqual({ id: "fast-model", object: "model", created: expect.any(Number), owned_by: "openai" });
      expect(await client.models.retrieve("openai/gpt-4o")).toMatchObject({ id: "openai/gpt-4o", object: "model" });
      const unescaped = await fetch(`${gateway.baseUrl}/models/openai/gpt-4o`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      expect(await unescaped.json()).toMatchObject({ id: "openai/gpt-4o" });
    });

    it("answers 404 model_not_found for a model that does not exist, or that the key may not use", async () => {
      const unknown = (await client.models.retrieve("nope").catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
      expect(unknown.error).toEqual({ message: "The model 'nope' does not exist", type: "invalid_request_error", param: "model", code: "model_not_found" });

      const { json: minted } = await admin<GeneratedKey>(gateway.baseUrl, "POST", "/key/generate", { models: ["fast-model"] });
      const limited = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: minted.key, maxRetries: 0 });
      expect(await limited.models.retrieve("fast-model")).toMatchObject({ id: "fast-model" });
      await expect(limited.models.retrieve("openai/gpt-4o")).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    });
  });
});
