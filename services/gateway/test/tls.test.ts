import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";
import { fetchTrusting, selfSignedCertificate, startCaddy, type Certificate, type RunningCaddy } from "./support/tls.js";

/** A completion and a stream through `baseURL`, as any OpenAI client would make them. */
async function expectCompletions(client: OpenAI): Promise<void> {
  const { data, response } = await client.chat.completions
    .create({ model: "fast-model", messages: [{ role: "user", content: "over TLS" }] })
    .withResponse();
  expect(data.choices[0]?.message.content).toBe("Echo: over TLS");
  expect(response.headers.get("x-litellm-call-id")).toMatch(/^[0-9a-f-]{36}$/);
  const stream = await client.chat.completions.create({ model: "fast-model", stream: true, messages: [{ role: "user", content: "streamed over TLS" }] });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
  expect(text).toBe("Echo: streamed over TLS");
}

/** Every message down an error's cause chain. */
function causes(err: unknown): string {
  const messages: string[] = [];
  for (let e = err; e instanceof Error && messages.length < 10; e = e.cause) messages.push(e.message);
  return messages.join(" <- ");
}

describe("TLS", () => {
  let provider: FakeProvider;
  let database: TestDatabase;
  let bus: TestBus;
  let configPath: string;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
    database = await createTestDatabase();
    bus = await createTestBus();
    configPath = fakeOpenAIConfig(provider.url);
  });

  afterAll(async () => {
    await provider?.close();
    await bus?.close();
    await database?.drop();
  });

  describe("Caddy in front of the edge, with deploy/Caddyfile and its internal CA", () => {
    let gateway: RunningGateway;
    let caddy: RunningCaddy;

    beforeAll(async () => {
      gateway = await startGateway(gatewayOptions("all", configPath, { databaseUrl: database.url, nats: bus }));
      caddy = await startCaddy([`127.0.0.1:${gateway.port}`]);
    });

    afterAll(async () => {
      await caddy?.close();
      await gateway?.close();
    });

    it("serves the OpenAI SDK over HTTPS, streams included", async () => {
      const trusting = fetchTrusting(caddy.rootCertificate);
      try {
        await expectCompletions(new OpenAI({ baseURL: `${caddy.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0, fetch: trusting.fetch }));
      } finally {
        await trusting.close();
      }
    });

    it("keeps the edge's unauthenticated /metrics off the public side", async () => {
      const trusting = fetchTrusting(caddy.rootCertificate);
      try {
        expect((await trusting.fetch(`${caddy.url}/metrics`)).status).toBe(404);
        expect((await trusting.fetch(`${caddy.url}/health/readiness`)).status).toBe(200);
      } finally {
        await trusting.close();
      }
      expect((await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).status).toBe(200);
    });

    it("is refused by a client that does not trust Caddy's CA", async () => {
      const untrusting = fetchTrusting(undefined);
      try {
        const client = new OpenAI({ baseURL: `${caddy.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0, fetch: untrusting.fetch });
        const err = await client.models.list().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
        expect(causes(err)).toMatch(/certificate/i);
      } finally {
        await untrusting.close();
      }
    });
  });

  describe("the edge serving HTTPS itself (--ssl_keyfile_path, --ssl_certfile_path)", () => {
    const processes = new ProcessGroup();
    let certificate: Certificate;
    let gateway: GatewayProcess;

    beforeAll(async () => {
      certificate = await selfSignedCertificate();
      gateway = await processes.start("all", {
        configPath,
        env: { FAKE_PROVIDER_KEY: PROVIDER_KEY, DATABASE_URL: database.url, NATS_URL: bus.url, NATS_STREAM: bus.stream, NATS_SUBJECT_PREFIX: bus.prefix },
        args: ["--ssl_keyfile_path", certificate.keyPath, "--ssl_certfile_path", certificate.certPath],
      });
    });

    afterAll(async () => {
      await processes.close();
      certificate?.remove();
    });

    it("serves the OpenAI SDK over HTTPS with the given certificate", async () => {
      const trusting = fetchTrusting(certificate.cert);
      try {
        await expectCompletions(new OpenAI({ baseURL: `https://localhost:${gateway.port}/v1`, apiKey: MASTER_KEY, maxRetries: 0, fetch: trusting.fetch }));
      } finally {
        await trusting.close();
      }
    });

    it("does not answer plain HTTP", async () => {
      await expect(fetch(`http://127.0.0.1:${gateway.port}/health/liveliness`)).rejects.toThrow();
    });
  });
});
