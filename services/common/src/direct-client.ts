import type { DescMessage, DescService } from "@bufbuild/protobuf";
import type { CallOptions, Client, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { CallContext } from "./call-context.js";
import { messageOf } from "./message-of.js";
import { traceDirectCall, traceDirectStream, tracingEnabled } from "./tracing.js";

/** The protocolName a handler sees when its caller is in this process. */
export const DIRECT_PROTOCOL = "direct";

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
          messageOf(method.output, await call(messageOf(method.input, request), new CallContext(service, method, options, DIRECT_PROTOCOL)));
        client[method.localName] = tracingEnabled()
          ? (request: unknown, options?: CallOptions) => traceDirectCall(spanName, () => unary(request, options))
          : unary;
        break;
      }
      case "server_streaming": {
        // The handler runs once the caller starts reading, as a Connect call's stream does.
        const stream = (request: unknown, options?: CallOptions): AsyncIterable<unknown> => ({
          [Symbol.asyncIterator]: () => {
            const responses = call(messageOf(method.input, request), new CallContext(service, method, options, DIRECT_PROTOCOL)) as AsyncIterable<unknown>;
            return wholeMessages(method.output, responses[Symbol.asyncIterator]());
          },
        });
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

/**
 * A handler's answers read through its own iterator, each as a whole
 * message: a generator in between would add a resumption and a promise per
 * answer on every call made in this process.
 */
function wholeMessages(schema: DescMessage, inner: AsyncIterator<unknown>): AsyncIterator<unknown> {
  const whole = (result: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (result.done === true) return result;
    const value = messageOf(schema, result.value);
    return value === result.value ? result : { done: false, value };
  };
  return {
    next: () => inner.next().then(whole),
    // The caller stopped reading: the handler's generator runs its finally blocks.
    return: async (value?: unknown) => (await inner.return?.(value)) ?? { done: true, value },
  };
}
