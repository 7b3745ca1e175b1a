import type { IncomingHttpHeaders } from "node:http";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import type { Interceptor } from "@connectrpc/connect";
import type { NodeTracerProvider, SpanProcessor } from "@opentelemetry/sdk-trace-node";

// OpenTelemetry traces, off unless an OTLP endpoint is configured (or a test
// hands in its own span processor). Off, nothing here is called on a
// request's path: callers check tracingEnabled() once, when they wire
// themselves up, and skip tracing altogether.

const tracer = trace.getTracer("llm-gateway");
let provider: NodeTracerProvider | undefined;

export interface TracingOptions {
  /** The service.name of every span this process makes. */
  serviceName: string;
  /** Replaces the OTLP exporter (tests pass an in-memory one). */
  spanProcessors?: SpanProcessor[];
}

/** Whether OTEL_* variables ask for OTLP trace export. */
export function otlpConfigured(env: NodeJS.ProcessEnv): boolean {
  if (env["OTEL_SDK_DISABLED"] === "true" || env["OTEL_TRACES_EXPORTER"] === "none") return false;
  return Boolean(env["OTEL_EXPORTER_OTLP_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
}

/**
 * Turns tracing on for this process: spans go to the OTLP/HTTP endpoint the
 * standard OTEL_EXPORTER_OTLP_* variables name, or to the given processors.
 * Resolves to a function that flushes and stops; undefined when tracing
 * stays off. The SDK is loaded only then: it is about 10 MB of memory that a
 * gateway without tracing does not need.
 */
export async function startTracing(options: TracingOptions, env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | undefined> {
  if (provider) throw new Error("tracing is already on in this process");
  if (!options.spanProcessors && !otlpConfigured(env)) return undefined;
  const [sdk, { resourceFromAttributes }] = await Promise.all([import("@opentelemetry/sdk-trace-node"), import("@opentelemetry/resources")]);
  const spanProcessors = options.spanProcessors ?? [new sdk.BatchSpanProcessor(new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter())];
  if (provider) throw new Error("tracing is already on in this process");
  const started = new sdk.NodeTracerProvider({ resource: resourceFromAttributes({ "service.name": options.serviceName }), spanProcessors });
  // Registers the AsyncLocalStorage context manager and the W3C traceparent propagator too.
  started.register();
  provider = started;
  return async () => {
    await started.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    provider = undefined;
  };
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

function endWith(span: Span, err: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  }
  span.end();
}

/** Runs `fn` in a span, the span active while it runs. */
async function inSpan<T>(name: string, kind: SpanKind, parent: Context, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  try {
    const result = await context.with(trace.setSpan(parent, span), fn);
    span.end();
    return result;
  } catch (err) {
    endWith(span, err);
    throw err;
  }
}

/** A stream in a span that lasts until the stream ends, and is active whenever the stream resumes. */
function streamInSpan<T>(name: string, kind: SpanKind, parent: Context, attributes: Attributes, source: AsyncIterable<T>): AsyncIterable<T> {
  const span = tracer.startSpan(name, { kind, attributes }, parent);
  return tracedIterable(source, span, trace.setSpan(parent, span));
}

async function* tracedIterable<T>(source: AsyncIterable<T>, span: Span, active: Context): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let failure: unknown;
  let done = false;
  try {
    for (;;) {
      const step = await context.with(active, () => iterator.next());
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } catch (err) {
    failure = err;
    done = true;
    throw err;
  } finally {
    // A consumer that stops early (a client gone) closes the source too.
    if (!done) await context.with(active, async () => iterator.return?.()).catch(() => {});
    endWith(span, failure);
  }
}

/** A unary call handled in this process (the one-process mode's direct calls), in a span. */
export function traceDirectCall<T>(name: string, fn: () => Promise<T>): Promise<T> {
  return inSpan(name, SpanKind.SERVER, context.active(), {}, fn);
}

/** A server stream handled in this process, in a span. */
export function traceDirectStream<T>(name: string, source: AsyncIterable<T>): AsyncIterable<T> {
  return streamInSpan(name, SpanKind.SERVER, context.active(), {}, source);
}

const headersSetter = { set: (carrier: Headers, key: string, value: string) => carrier.set(key, value) };
const headersGetter = {
  get: (carrier: Headers, key: string) => carrier.get(key) ?? undefined,
  keys: (carrier: Headers) => [...carrier.keys()],
};

/** Client side of a Connect call: sends the active trace as `traceparent`. */
export const traceClientInterceptor: Interceptor = (next) => async (req) => {
  propagation.inject(context.active(), req.header, headersSetter);
  return next(req);
};

/** Server side of a Connect call: a span per call, child of the caller's `traceparent`. */
export const traceServerInterceptor: Interceptor = (next) => async (req) => {
  const parent = propagation.extract(ROOT_CONTEXT, req.header, headersGetter);
  const name = `${req.service.typeName}/${req.method.name}`;
  const attributes = { "rpc.system": "connect_rpc" };
  if (req.method.methodKind === "unary") return inSpan(name, SpanKind.SERVER, parent, attributes, () => next(req));
  // The handler's body runs as the adapter reads the stream, so the span must follow the stream.
  const res = await next(req);
  return res.stream ? { ...res, message: streamInSpan(name, SpanKind.SERVER, parent, attributes, res.message) } : res;
};

/**
 * The span of one HTTP request at the edge, child of a `traceparent` the
 * client sent; `fn` runs with it active and answers the request.
 */
export async function traceHttpRequest(name: string, headers: IncomingHttpHeaders, attributes: Attributes, fn: () => Promise<void>, statusCode: () => number): Promise<void> {
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  try {
    await context.with(trace.setSpan(parent, span), fn);
  } finally {
    const code = statusCode();
    span.setAttribute("http.response.status_code", code);
    if (code >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/**
 * A call out of the gateway (a provider's API), started within a client
 * span that lasts until its answer settles or, for a stream, until the
 * stream ends.
 */
export function traceClientCall<P, S>(name: string, attributes: Attributes, start: () => Promise<P> | AsyncIterable<S>): Promise<P> | AsyncIterable<S> {
  const parent = context.active();
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  const active = trace.setSpan(parent, span);
  let call: Promise<P> | AsyncIterable<S>;
  try {
    call = context.with(active, start);
  } catch (err) {
    endWith(span, err);
    throw err;
  }
  if (!(call instanceof Promise)) return tracedIterable(call, span, active);
  return call.then(
    (answer) => {
      span.end();
      return answer;
    },
    (err: unknown) => {
      endWith(span, err);
      throw err;
    },
  );
}
