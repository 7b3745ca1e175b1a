import { create, isMessage, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { createContextValues, type CallOptions, type Client, type ContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { LightAbortController } from "./light-abort-controller.js";
import { traceDirectCall, traceDirectStream, tracingEnabled } from "./tracing.js";

const NEVER = new LightAbortController().signal;
const NO_HEADERS = new Headers();

/**
 * A context for a call that never crossed a transport. It carries what a
 * handler may read (signal, request headers) and makes nothing a handler
 * does not ask for: in the one-process mode, the deadline timers, linked
 * controllers and three Headers objects that createHandlerContext builds per
 * call cost more than the handler itself.
 */
class DirectContext implements HandlerContext {
  readonly requestMethod = "POST";
  readonly protocolName = "direct";
  private requestHeaders: Headers | undefined;
  private header: Headers | undefined;
  private trailer: Headers | undefined;
  private contextValues: ContextValues | undefined;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly options: CallOptions | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.options?.signal ?? NEVER;
  }

  timeoutMs(): number | undefined {
    return this.options?.timeoutMs;
  }

  get requestHeader(): Headers {
    return (this.requestHeaders ??= this.options?.headers ? new Headers(this.options.headers) : NO_HEADERS);
  }

  get responseHeader(): Headers {
    return (this.header ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.trailer ??= new Headers());
  }

  get values(): ContextValues {
    return (this.contextValues ??= this.options?.contextValues ?? createContextValues());
  }

  get url(): string {
    return `/${this.service.typeName}/${this.method.name}`;
  }
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
          toMessage(method.output, await call(toMessage(method.input, request), new DirectContext(service, method, options)));
        client[method.localName] = tracingEnabled()
          ? (request: unknown, options?: CallOptions) => traceDirectCall(spanName, () => unary(request, options))
          : unary;
        break;
      }
      case "server_streaming": {
        const stream = async function* (request: unknown, options?: CallOptions) {
          const responses = call(toMessage(method.input, request), new DirectContext(service, method, options));
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
