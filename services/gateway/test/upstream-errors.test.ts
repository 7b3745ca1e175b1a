import { createServer, type Server, type ServerResponse } from "node:http";
import Anthropic, { type APIError } from "@anthropic-ai/sdk";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, startInMode, type ModeGateway } from "./support/modes.js";

// How a provider's failures reach the client: its 4xx as they are, a
// timeout as 504, an unavailable provider as 503, other failures as 502.
const mode = MODES[2]!;

/** Writes `piece` for as long as the socket takes it, minding its buffer: one line that never ends. */
async function writeForever(res: ServerResponse, piece: string): Promise<void> {
  while (!res.destroyed) {
    if (res.write(piece)) continue;
    await new Promise<void>((resolve) => {
      const go = () => {
        res.off("drain", go).off("close", go);
        resolve();
      };
      res.once("drain", go).once("close", go);
    });
  }
}

/**
 * An OpenAI-speaking upstream whose answers never end: a stream sends one
 * chunk, then a line that never ends; a whole answer (or, under /error, an
 * error) is a JSON body that never ends. Under /chunked, a whole answer
 * comes in pieces without a length, and ends. Under /long-error, the answer
 * is a 400 whose JSON error's message is 100,000 characters; under
 * /long-text-error, one whose plain text is.
 */
async function endlessLineProvider(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (part: Buffer) => (body += part.toString()));
    req.on("end", () => {
      const stream = (JSON.parse(body) as { stream?: boolean }).stream === true;
      if (stream) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const chunk = { id: "c1", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\ndata: {"id":"`);
      } else if (req.url?.startsWith("/long-")) {
        const message = "too long ".repeat(100_000 / 9);
        const json = req.url.startsWith("/long-error");
        res.writeHead(400, { "content-type": json ? "application/json" : "text/plain" });
        res.end(json ? JSON.stringify({ error: { message, type: "invalid_request_error" } }) : message);
        return;
      } else if (req.url?.startsWith("/chunked")) {
        const answer = { id: "c2", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", content: "in pieces" }, finish_reason: "stop" }] };
        const text = JSON.stringify(answer);
        res.writeHead(200, { "content-type": "application/json" });
        res.write(text.slice(0, 20));
        res.end(text.slice(20));
        return;
      } else {
        res.writeHead(req.url?.startsWith("/error") ? 500 : 200, { "content-type": "application/json" });
        res.write('{"id":"');
      }
      void writeForever(res, "a".repeat(64 * 1024));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("upstream failures", () => {
  let provider: FakeProvider;
  let endless: { url: string; close(): Promise<void> };
  let gateway: ModeGateway;
  let client: OpenAI;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider();
    endless = await endlessLineProvider();
    const config = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY, timeout: 0.3 }
  - model_name: endless-line
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${endless.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: chunked
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${endless.url}/chunked/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: endless-error
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${endless.url}/error/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: long-error
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${endless.url}/long-error/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
  - model_name: long-text-error
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${endless.url}/long-text-error/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
litellm_settings:
  # Each failure reaches the client as it is; retries have tests of their own.
  num_retries: 0
general_settings:
  master_key: ${MASTER_KEY}
`);
    gateway = await startInMode(mode, config);
    client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await provider?.close();
    await endless?.close();
  });
  beforeEach(() => {
    Object.assign(provider.behavior, { latencyMs: 0, chunkDelayMs: 0, failNext: 0, retryAfterSeconds: undefined });
  });

  const ask = () => client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });

  it.each([
    [500, 502],
    [502, 502],
    [503, 503],
    [400, 400],
  ])("a provider's %i reaches the client as %i, with the provider's message", async (upstream, expected) => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: upstream });
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(expected);
    expect(err.message).toContain("Injected failure");
  });

  it("keeps a 429 a 429, with its retry-after and the provider's error code", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.headers?.get("retry-after")).toBe("7");
    // What OpenAI clients branch on (the fake sends OpenAI's code for a rate limit).
    expect(err.code).toBe("rate_limit_exceeded");
  });

  it("answers 504 when the provider does not answer within the deployment's timeout", async () => {
    provider.behavior.latencyMs = 2000;
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.type).toBe("timeout");
  });

  it("tells an Anthropic client a provider's 403 and a timeout with Anthropic's types for them", async () => {
    const anthropic = new Anthropic({ baseURL: gateway.baseUrl, apiKey: MASTER_KEY, maxRetries: 0 });
    const askAnthropic = async () =>
      (await anthropic.messages.create({ model: "fast-model", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as APIError;
    Object.assign(provider.behavior, { failNext: 1, failStatus: 403 });
    const forbidden = await askAnthropic();
    expect(forbidden.status).toBe(403);
    expect(forbidden.error).toMatchObject({ type: "error", error: { type: "permission_error" } });
    provider.behavior.latencyMs = 2000;
    const late = await askAnthropic();
    expect(late.status).toBe(504);
    expect(late.error).toMatchObject({ type: "error", error: { type: "timeout_error" } });
  });

  const streamed = async (content: string) => {
    const stream = await client.chat.completions.create({ model: "fast-model", stream: true, messages: [{ role: "user", content }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    return text;
  };

  it("lets a stream that keeps coming run past the timeout: it bounds each wait for the next chunk", async () => {
    // Eight chunks 0.15 s apart: over a second in all, against a 0.3 s timeout.
    provider.behavior.chunkDelayMs = 150;
    expect(await streamed("one two three four five six")).toBe("Echo: one two three four five six");
  });

  it("ends a stream with a timeout error when its next chunk is later than the timeout", async () => {
    provider.behavior.chunkDelayMs = 1000;
    const err = (await streamed("one two three").catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain("did not answer in time");
  });

  it("ends a stream whose provider sends a line that never ends, rather than holding the line until memory runs out", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "endless-line", stream: true, messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    let text = "";
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("hi");
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as Error).message).toContain("stream event longer than");
    const row = await gateway.spendLog(response.headers.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ status: "failure", error_type: "api_error", stream: true });
  });

  it("reads a whole answer that comes in pieces without a length", async () => {
    const answer = await client.chat.completions.create({ model: "chunked", messages: [{ role: "user", content: "hi" }] });
    expect(answer.choices[0]!.message.content).toBe("in pieces");
  });

  it("answers 502 to an answer that never ends, rather than reading it until memory runs out", async () => {
    const err = (await client.chat.completions.create({ model: "endless-line", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.message).toContain("answer longer than");
    const row = await gateway.spendLog(err.headers!.get("x-litellm-call-id")!);
    expect(row).toMatchObject({ status: "failure", error_type: "api_error", stream: false });
  });

  it("passes on the status of an error whose body never ends, reading only the start of it", async () => {
    const err = (await client.chat.completions.create({ model: "endless-error", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.message).toContain('openai error: {"id":"aaa');
    // The gateway keeps serving.
    expect((await ask()).choices[0]?.message.content).toBe("Echo: hi");
  });

  it("cuts a long error message alike whether the provider sent it as JSON or as plain text", async () => {
    const messages: string[] = [];
    for (const model of ["long-error", "long-text-error"]) {
      const err = (await client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err, model).toBeInstanceOf(OpenAI.BadRequestError);
      messages.push((err.error as { message: string }).message);
    }
    expect(messages[0]).toMatch(/^openai error: too long too long /);
    expect(messages[0]!.length).toBeLessThan(2100);
    expect(messages[0]).toBe(messages[1]);
  });
});
