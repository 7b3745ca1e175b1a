import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseConfig } from "@gateway/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment } from "../src/config/deployment.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { adapterFor, SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { ProviderError, type ProviderCall } from "../src/providers/provider.js";

// A provider (or a proxy before it) that starts a stream and then fails it
// with an error event quoting the request's headers: the deployment's
// extra_headers values must not reach the client that way either.

const KEY = "sk-stream-error-key-0123456789";
const HEADER_SECRET = "tenant-secret-abcdef-0123";

/** The error event each provider's stream fails with, by the path it was asked at. */
function errorEvent(req: IncomingMessage): string {
  const quoted = `stream broke; request headers: ${JSON.stringify(req.headers)}`;
  const path = req.url ?? "";
  if (path.includes("/messages")) return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: quoted } })}\n\n`;
  if (path.endsWith("/responses")) return `event: error\ndata: ${JSON.stringify({ type: "error", message: quoted })}\n\n`;
  return `data: ${JSON.stringify({ error: { message: quoted } })}\n\n`;
}

let server: Server;
let models: ModelGroups;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(errorEvent(req));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const entry = (name: string, model: string) =>
    `  - { model_name: ${name}, litellm_params: { model: ${model}, api_base: "${base}", api_key: ${KEY}, extra_headers: { x-tenant-auth: ${HEADER_SECRET}, x-api-version: v2 } } }\n`;
  models = ModelGroups.fromConfig(
    parseConfig(`model_list:\n${entry("gpt", "openai/gpt-x")}${entry("claude", "anthropic/claude-x")}${entry("gemini", "gemini/gemini-x")}${entry("mistral", "mistral/mistral-small")}`),
    SUPPORTED_PROVIDERS,
  );
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

function call(name: string, body: Record<string, unknown>): ProviderCall {
  return { deployment: models.get(name)![0] as Deployment, body, signal: AbortSignal.timeout(10_000), headers: {} };
}

/** The error a stream fails with once read. */
async function failure(stream: () => Promise<AsyncIterable<unknown>>): Promise<ProviderError> {
  try {
    for await (const _ of await stream()) {
      // Read until it fails.
    }
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error("the stream ended without failing");
}

const hello = { messages: [{ role: "user", content: "hi" }] };

describe("a provider's error event in the middle of a stream", () => {
  const cases: [string, () => Promise<AsyncIterable<unknown>>][] = [
    ["OpenAI chat", () => adapterFor(call("gpt", hello).deployment).chatStream(call("gpt", hello))],
    ["OpenAI Responses", () => adapterFor(call("gpt", {}).deployment).responsesStream!(call("gpt", { input: "hi" }))],
    ["Anthropic Messages", () => adapterFor(call("claude", {}).deployment).messagesStream!(call("claude", { ...hello, max_tokens: 10 }))],
    ["Gemini", () => adapterFor(call("gemini", hello).deployment).chatStream(call("gemini", hello))],
    ["Mistral", () => adapterFor(call("mistral", hello).deployment).chatStream(call("mistral", hello))],
  ];

  it.each(cases)("%s: shows none of the deployment's extra_headers values, nor its key", async (_name, stream) => {
    const err = await failure(stream);
    expect(err.status).toBeGreaterThanOrEqual(500);
    // The event did quote the headers: they are there, their secrets taken out.
    expect(err.message).toContain('"x-tenant-auth":"[redacted]"');
    expect(err.message).not.toContain(HEADER_SECRET);
    expect(err.message).not.toContain(KEY);
    // A value too short to be a secret (a version) is left, so the message still reads.
    expect(err.message).toContain('"x-api-version":"v2"');
  });
});
