import { startTracing } from "@gateway/common";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { createTestBus, createTestDatabase, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-node";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { gatewayOptions, startSplitGateway } from "./support/gateway.js";

const AUTHORIZE = "gateway.keys.v1.KeysService/Authorize";
const COMPLETE = "gateway.router.v1.RouterService/Complete";
const EDGE = "POST /v1/chat/completions";
const PROVIDER = "provider openai";

const exporter = new InMemorySpanExporter();
let stopTracing: (() => Promise<void>) | undefined;
let provider: FakeProvider;
let database: TestDatabase;
let bus: TestBus;

// Tracing is switched on before any gateway starts, as main.ts does when an OTLP endpoint is set.
beforeAll(async () => {
  stopTracing = await startTracing({ serviceName: "gateway-test", spanProcessors: [new SimpleSpanProcessor(exporter)] });
  process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
  provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
  database = await createTestDatabase();
  bus = await createTestBus();
});
afterAll(async () => {
  await provider?.close();
  await bus?.close();
  await database?.drop();
  await stopTracing?.();
});

function spanOf(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return span;
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** The finished spans of the trace whose edge span served `requestId` (other tests' spans may finish late). */
function spansOfRequest(requestId: string): ReadableSpan[] {
  const finished = exporter.getFinishedSpans();
  const edge = finished.find((s) => s.name === EDGE && s.attributes["gateway.request_id"] === requestId);
  return edge ? finished.filter((s) => s.spanContext().traceId === edge.spanContext().traceId) : [];
}

describe.each([
  { name: "split services over Connect", split: true },
  { name: "one process", split: false },
])("traces, $name", ({ split }) => {
  let gateway: RunningGateway;
  let client: OpenAI;

  beforeAll(async () => {
    const config = fakeOpenAIConfig(provider.url);
    const plumbing = { databaseUrl: database.url, nats: bus };
    gateway = split ? await startSplitGateway(config, plumbing) : await startGateway(gatewayOptions("all", config, plumbing));
    client = new OpenAI({ baseURL: `http://127.0.0.1:${gateway.port}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it("follows one request edge → keys → router → provider in one trace", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "fast-model", stream: true, messages: [{ role: "user", content: "trace me" }] })
      .withResponse();
    for await (const _ of stream);
    const spans = await eventually("the request's spans", async () => {
      const finished = spansOfRequest(response.headers.get("x-litellm-call-id")!);
      return [EDGE, AUTHORIZE, COMPLETE, PROVIDER].every((name) => finished.some((s) => s.name === name)) ? finished : undefined;
    });
    const edge = spanOf(spans, EDGE);
    const [authorize, complete, call] = [AUTHORIZE, COMPLETE, PROVIDER].map((name) => spanOf(spans, name)) as [ReadableSpan, ReadableSpan, ReadableSpan];
    const traceId = edge.spanContext().traceId;
    for (const span of [authorize, complete, call]) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(edge)).toBeUndefined();
    expect(parentOf(authorize)).toBe(edge.spanContext().spanId);
    expect(parentOf(complete)).toBe(edge.spanContext().spanId);
    expect(parentOf(call)).toBe(complete.spanContext().spanId);
    // Split, the edge's context reached the services only as a traceparent header.
    expect(authorize.parentSpanContext?.isRemote ?? false).toBe(split);
    expect(complete.parentSpanContext?.isRemote ?? false).toBe(split);
    expect(call.attributes["gateway.deployment"]).toBe("fake-deployment-1");
    expect(edge.attributes["http.response.status_code"]).toBe(200);
  });

  it("continues the trace a client sends in traceparent", async () => {
    const traceId = split ? "4bf92f3577b34da6a3ce929d0e0e4736" : "5bf92f3577b34da6a3ce929d0e0e4737";
    const { response } = await client.chat.completions
      .create({ model: "fast-model", messages: [{ role: "user", content: "part of my trace" }] }, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } })
      .withResponse();
    const spans = await eventually("the request's spans", async () => {
      const finished = spansOfRequest(response.headers.get("x-litellm-call-id")!);
      return [EDGE, COMPLETE, PROVIDER].every((name) => finished.some((s) => s.name === name)) ? finished : undefined;
    });
    expect(spanOf(spans, EDGE).spanContext().traceId).toBe(traceId);
    expect(parentOf(spanOf(spans, EDGE))).toBe("00f067aa0ba902b7");
    expect(spanOf(spans, PROVIDER).spanContext().traceId).toBe(traceId);
    // A call that does not stream is in its span too.
    expect(parentOf(spanOf(spans, PROVIDER))).toBe(spanOf(spans, COMPLETE).spanContext().spanId);
  });
});
