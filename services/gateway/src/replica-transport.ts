import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, Transport } from "@connectrpc/connect";
import { connectTransport, type InternalCredential } from "@gateway/common";

// How long a replica that refused a connection is passed over before it is
// tried again (a restarting replica is usually back within seconds).
const PASS_OVER_MS = 1_000;

// Failures that prove the call never reached a handler, so it is safe to run
// it on another replica even when it is not idempotent (a budget reservation):
// the connection was refused, or an HTTP/2 stream was refused or arrived
// after the replica's GOAWAY.
const NOT_DELIVERED = new Set(["ECONNREFUSED", "ERR_HTTP2_GOAWAY_SESSION"]);
const REFUSED_STREAM = /NGHTTP2_REFUSED_STREAM/;

export function neverDelivered(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as NodeJS.ErrnoException).code;
    if ((typeof code === "string" && NOT_DELIVERED.has(code)) || REFUSED_STREAM.test(e.message)) return true;
  }
  return false;
}

type CallHeaders = Parameters<Transport["unary"]>[3];

interface Replica {
  url: string;
  transport: Transport;
  passOverUntil: number;
}

/**
 * A transport over several replicas of one service ("http://a:4001,http://b:4001"):
 * calls go round-robin, and a call a replica provably did not take (it is
 * down or shutting down) moves to the next one. A single URL, such as a
 * Kubernetes Service, is just that URL's transport. Every call carries
 * `credential`; `maxMessageBytes` is the largest request the service takes.
 */
export function replicaTransport(urls: string, credential: InternalCredential, maxMessageBytes?: number): Transport {
  const list = urls
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  if (list.length === 0) throw new Error("no replica URL given");
  if (list.length === 1) return connectTransport(list[0]!, credential, maxMessageBytes);
  const replicas: Replica[] = list.map((url) => ({ url, transport: connectTransport(url, credential, maxMessageBytes), passOverUntil: 0 }));
  let next = 0;

  /** Every replica once, starting at the next in turn, those passed over last. */
  function order(): Replica[] {
    const start = next++ % replicas.length;
    const turn = [...replicas.slice(start), ...replicas.slice(0, start)];
    const now = Date.now();
    return [...turn.filter((r) => r.passOverUntil <= now), ...turn.filter((r) => r.passOverUntil > now)];
  }

  async function attempt<T>(call: (transport: Transport) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (const replica of order()) {
      try {
        const result = await call(replica.transport);
        replica.passOverUntil = 0;
        return result;
      } catch (err) {
        if (!neverDelivered(err)) throw err;
        replica.passOverUntil = Date.now() + PASS_OVER_MS;
        lastError = err;
      }
    }
    throw lastError;
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: CallHeaders,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ) {
      return attempt((t) => t.unary(method, signal, timeoutMs, header, input, contextValues));
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: CallHeaders,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ) {
      // A server-streaming call sends one message, kept so a retry can resend
      // it; a client stream cannot be replayed, so it stays on one replica.
      if (method.methodKind !== "server_streaming") return order()[0]!.transport.stream(method, signal, timeoutMs, header, input, contextValues);
      const messages: MessageInitShape<I>[] = [];
      for await (const message of input) messages.push(message);
      return attempt((t) => t.stream(method, signal, timeoutMs, header, replay(messages), contextValues));
    },
  };
}

async function* replay<T>(messages: T[]): AsyncIterable<T> {
  yield* messages;
}
