import { create, isMessage, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { createContextValues, type CallOptions, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { traceDirectCall, traceDirectStream, tracingEnabled } from "./tracing.js";

const NEVER = new AbortController().signal;
const NO_HEADERS = new Headers();

/**
 * A context for a call that never crossed a transport. It carries what a
 * handler may read (signal, request headers) and skips what the full
 * createHandlerContext builds per call (deadline timers, linked controllers,
 * three Headers objects): in the one-process mode that per-call work costs
 * more than the handler itself.
 */
function directContext(service: DescService, method: DescMethod, options: CallOptions | undefined): HandlerContext {
  return {
    service,
    method,
    signal: options?.signal ?? NEVER,
    timeoutMs: () => options?.timeoutMs,
    requestMethod: "POST",
    requestHeader: options?.headers ? new Headers(options.headers) : NO_HEADERS,
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
    protocolName: "direct",
    values: options?.contextValues ?? createContextValues(),
    url: `/${service.typeName}/${method.name}`,
  };
}

function toMessage<O extends DescMessage>(schema: O, value: unknown) {
  return isMessage(value, schema) ? value : create(schema, value as never);
}

/**
 * A Client-shaped object that calls a service implementation in this process,
 * so callers are written once against Client<Service> whether their peer is
 * here or across the network.
 */
export function directClient<S extends DescService>(service: S, impl: ServiceImpl<S>): Client<S> {
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    const fn = (impl as Record<string, (req: unknown, ctx: HandlerContext) => unknown>)[method.localName];
    if (typeof fn !== "function") continue;
    const call = fn.bind(impl);
    // The same span name as a Connect server's, so a trace reads the same in both modes.
    const spanName = `${service.typeName}/${method.name}`;
    switch (method.methodKind) {
      case "unary": {
        const unary = async (request: unknown, options?: CallOptions) =>
          toMessage(method.output, await call(toMessage(method.input, request), directContext(service, method, options)));
        client[method.localName] = tracingEnabled()
          ? (request: unknown, options?: CallOptions) => traceDirectCall(spanName, () => unary(request, options))
          : unary;
        break;
      }
      case "server_streaming": {
        const stream = async function* (request: unknown, options?: CallOptions) {
          const responses = call(toMessage(method.input, request), directContext(service, method, options));
          for await (const response of responses as AsyncIterable<unknown>) yield toMessage(method.output, response);
        };
        client[method.localName] = tracingEnabled()
          ? (request: unknown, options?: CallOptions) => traceDirectStream(spanName, stream(request, options))
          : stream;
        break;
      }
      default:
        throw new Error(`${service.typeName}.${method.name}: ${method.methodKind} methods are not supported in process`);
    }
  }
  return client as Client<S>;
}
