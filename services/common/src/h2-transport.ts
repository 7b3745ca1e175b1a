import * as http2 from "node:http2";
import * as net from "node:net";
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { codeFromHttpStatus, endStreamFlag, endStreamFromJson, errorFromJsonBytes, type EndStreamResponse } from "@connectrpc/connect/protocol-connect";
import { binaryCodec } from "./flat-codec.js";
import { INTERNAL_CREDENTIAL_HEADER, type InternalCredential } from "./internal-credential.js";

type CallHeaders = Parameters<Transport["unary"]>[3];

const { NGHTTP2_CANCEL } = http2.constants;
const TRAILER_PREFIX = "trailer-";
const ENVELOPE_HEADER = 5;

/**
 * A Connect client transport for the services' own calls to each other:
 * the Connect protocol with binary messages, unary and server-streaming
 * calls, over one HTTP/2 connection per peer. It does what
 * @connectrpc/connect-node's transport does for these calls, without what
 * costs it about half a millisecond of CPU per call here (an
 * AbortController linked to each call and aborted at its end, response
 * bodies read through several async-iterable layers, a ConnectError built on
 * every call's end). Errors come back as ConnectErrors with the peer's
 * metadata, and a call that never reached the peer keeps the Node error
 * (ECONNREFUSED, a GOAWAY, a refused stream) as its cause. Every call
 * carries `credential`, which the peer's port asks for. `maxSessionMemoryMb`
 * is what the connection may hold before it refuses new calls (Node's
 * maxSessionMemory; unset: Node's default).
 */
export function h2Transport(baseUrl: string, credential: InternalCredential, maxSessionMemoryMb?: number): Transport {
  const url = new URL(baseUrl);
  const credentialValue = credential.headerValue();
  const origin = url.origin;
  const prefix = url.pathname.replace(/\/$/, "");
  let session: http2.ClientHttp2Session | undefined;
  let open = 0;

  function connect(): http2.ClientHttp2Session {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(origin, {
      ...(maxSessionMemoryMb !== undefined && { maxSessionMemory: maxSessionMemoryMb }),
      createConnection: () => net.connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true }),
    });
    // Failures reach the calls on the session as stream errors.
    s.on("error", () => {});
    const forget = () => {
      if (session === s) session = undefined;
    };
    s.once("close", forget);
    s.once("goaway", forget);
    // An idle connection does not keep the process alive.
    if (open === 0) s.unref();
    session = s;
    return s;
  }

  /** Opens a call's stream; throws (a ConnectError) when the session cannot take one. */
  function request(path: string, contentType: string, timeoutMs: number | undefined, header: CallHeaders): http2.ClientHttp2Stream {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": `${prefix}${path}`,
      "content-type": contentType,
      "connect-protocol-version": "1",
      [INTERNAL_CREDENTIAL_HEADER]: credentialValue,
    };
    if (timeoutMs !== undefined && timeoutMs > 0) headers["connect-timeout-ms"] = String(Math.ceil(timeoutMs));
    if (header !== undefined) new Headers(header).forEach((value, name) => (headers[name] = value));
    let stream: http2.ClientHttp2Stream;
    try {
      stream = connect().request(headers);
    } catch (err) {
      throw connectErrorOf(err);
    }
    if (open++ === 0) session?.ref();
    stream.once("close", () => {
      if (--open === 0) session?.unref();
    });
    return stream;
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: CallHeaders,
      input: MessageInitShape<I>,
    ): Promise<UnaryResponse<I, O>> {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(abortError(signal));
        const body = binaryCodec(method.input).encode(input);
        let stream: http2.ClientHttp2Stream;
        try {
          stream = request(`/${method.parent.typeName}/${method.name}`, "application/proto", timeoutMs, header);
        } catch (err) {
          return reject(err);
        }
        const call = new Call(stream, signal, timeoutMs, reject);
        const chunks: Buffer[] = [];
        let status = 0;
        let responseHeaders: http2.IncomingHttpHeaders = {};
        stream.once("response", (h) => {
          status = Number(h[":status"]);
          responseHeaders = h;
        });
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.once("end", () => {
          if (call.settled) return;
          call.finish();
          const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
          const [header, trailer] = splitHeaders(responseHeaders);
          if (status !== 200) return reject(errorFromBody(status, bytes, mergeHeaders(header, trailer)));
          try {
            resolve({ stream: false, service: method.parent, method, header, trailer, message: binaryCodec(method.output).decode(bytes) });
          } catch (err) {
            reject(new ConnectError(`cannot decode ${method.output.typeName}`, Code.Internal, undefined, undefined, err));
          }
        });
        stream.end(body);
      });
    },

    stream: serverStream,
  };

  async function serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: CallHeaders,
    input: AsyncIterable<MessageInitShape<I>>,
  ): Promise<StreamResponse<I, O>> {
    if (method.methodKind !== "server_streaming") {
      throw new ConnectError(`${method.name}: only unary and server-streaming calls go over this transport`, Code.Unimplemented);
    }
    let first: MessageInitShape<I> | undefined;
    for await (const message of input) {
      if (first !== undefined) throw new ConnectError(`${method.name} takes one request message`, Code.InvalidArgument);
      first = message;
    }
    if (first === undefined) throw new ConnectError(`${method.name} takes one request message`, Code.InvalidArgument);
    const body = binaryCodec(method.input).encode(first);
    const output = binaryCodec(method.output);
    const envelope = Buffer.allocUnsafe(ENVELOPE_HEADER + body.length);
    envelope[0] = 0;
    envelope.writeUInt32BE(body.length, 1);
    envelope.set(body, ENVELOPE_HEADER);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal));
      let stream: http2.ClientHttp2Stream;
      try {
        stream = request(`/${method.parent.typeName}/${method.name}`, "application/connect+proto", timeoutMs, header);
      } catch (err) {
        return reject(err);
      }
      const trailer = new Headers();
      const messages = new MessageQueue<MessageShape<O>>(stream);
      const call = new Call(stream, signal, timeoutMs, (err) => {
        reject(err);
        messages.fail(err);
      });
      let responseHeader: Headers | undefined;
      // The bytes received past the last whole message, kept as they came:
      // HTTP/2 hands a large message over in many frames, and joining each
      // to the ones before copied the message over again for every frame
      // (a 15 MB answer held the edge's CPU for seconds, and its connection
      // to the peer with it). A message is joined once, when it is all there.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let ended = false;
      stream.once("response", (h) => {
        const status = Number(h[":status"]);
        [responseHeader] = splitHeaders(h);
        if (status !== 200) {
          // A Connect server answers a streaming call with 200 unless the call itself is malformed.
          const chunks: Buffer[] = [];
          stream.on("data", (chunk: Buffer) => chunks.push(chunk));
          stream.once("end", () => call.fail(errorFromBody(status, Buffer.concat(chunks), responseHeader!)));
          return;
        }
        resolve({ stream: true, service: method.parent, method, header: responseHeader, trailer, message: messages });
        stream.on("data", (chunk: Buffer) => {
          pending.push(chunk);
          pendingBytes += chunk.length;
          while (pendingBytes >= ENVELOPE_HEADER) {
            const head = pending[0]!.length >= ENVELOPE_HEADER ? pending[0]! : Buffer.concat(pending, ENVELOPE_HEADER);
            const length = head.readUInt32BE(1);
            if (pendingBytes < ENVELOPE_HEADER + length) break;
            const bytes = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
            const flags = bytes[0]!;
            const data = bytes.subarray(ENVELOPE_HEADER, ENVELOPE_HEADER + length);
            const rest = bytes.subarray(ENVELOPE_HEADER + length);
            pending = rest.length === 0 ? [] : [rest];
            pendingBytes = rest.length;
            if ((flags & endStreamFlag) === endStreamFlag) {
              ended = true;
              const end = endOfStream(data);
              end.metadata.forEach((value, name) => trailer.append(name, value));
              if (end.error) {
                for (const [name, value] of responseHeader!) if (!end.error.metadata.has(name)) end.error.metadata.set(name, value);
                call.fail(end.error);
              }
              continue;
            }
            try {
              messages.push(output.decode(data));
            } catch (err) {
              call.fail(new ConnectError(`cannot decode ${method.output.typeName}`, Code.Internal, undefined, undefined, err));
              stream.close(NGHTTP2_CANCEL);
              return;
            }
          }
        });
        stream.once("end", () => {
          if (call.settled) return;
          call.finish();
          if (!ended || pendingBytes > 0) messages.fail(new ConnectError("the stream ended without its end message", Code.Unavailable));
          else messages.end();
        });
      });
      stream.end(envelope);
    });
  }
}

/**
 * One call's bookkeeping: its deadline, the caller's abort signal, and
 * errors of the HTTP/2 stream, each of which ends the call once.
 */
class Call {
  settled = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    private readonly signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    private readonly onError: (err: ConnectError) => void,
  ) {
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.timer = setTimeout(() => this.cancel(new ConnectError(`the call did not finish within ${timeoutMs} ms`, Code.DeadlineExceeded)), timeoutMs);
    }
    signal?.addEventListener("abort", this.onAbort);
    stream.on("error", (err) => this.fail(connectErrorOf(err)));
    // A stream closed without an end (the peer reset it, the connection
    // dropped). Never the caller's cancel, which settles the call first: Node
    // closes every stream of a connection that drops (a peer killed, a peer's
    // shutdown timing out) with CANCEL, and that is the peer's failure.
    stream.once("close", () => {
      if (!this.settled) this.fail(new ConnectError(`the stream closed (HTTP/2 code ${stream.rstCode})`, Code.Unavailable));
    });
  }

  private readonly onAbort = (): void => this.cancel(abortError(this.signal!));

  private cancel(err: ConnectError): void {
    if (this.settled) return;
    this.fail(err);
    this.stream.close(NGHTTP2_CANCEL);
  }

  fail(err: ConnectError): void {
    if (this.settled) return;
    this.finish();
    this.onError(err);
  }

  finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}

/**
 * The response's messages, as the caller iterates them. Reading pauses while
 * the caller is this many messages behind, and the call is cancelled when
 * the caller stops early.
 */
const QUEUED_MESSAGES = 32;

class MessageQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private error: ConnectError | undefined;
  private done = false;
  private wake: (() => void) | undefined;

  constructor(private readonly stream: http2.ClientHttp2Stream) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length === QUEUED_MESSAGES) this.stream.pause();
    this.wakeUp();
  }

  end(): void {
    this.done = true;
    this.wakeUp();
  }

  fail(err: ConnectError): void {
    if (this.done) return;
    this.error = err;
    this.done = true;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let finished = false;
    try {
      for (;;) {
        const item = this.items.shift();
        if (this.items.length === QUEUED_MESSAGES - 1) this.stream.resume();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.error) throw this.error;
        if (this.done) {
          finished = true;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      if (!finished && !this.error) this.stream.close(NGHTTP2_CANCEL);
    }
  }
}

/** A stream's end message; the common one, "{}", without the parse (and the ConnectError endStreamFromJson builds up front). */
function endOfStream(data: Uint8Array): EndStreamResponse {
  if (data.length === 2 && data[0] === 0x7b && data[1] === 0x7d) return { metadata: new Headers() };
  return endStreamFromJson(data);
}

/** Response headers as Connect reports them: headers, and trailers sent as "trailer-" headers. */
function splitHeaders(raw: http2.IncomingHttpHeaders): [Headers, Headers] {
  const header = new Headers();
  const trailer = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":") || value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (name.startsWith(TRAILER_PREFIX)) trailer.append(name.slice(TRAILER_PREFIX.length), v);
      else header.append(name, v);
    }
  }
  return [header, trailer];
}

/** The error a response that is not a 200 carries: Connect's JSON error, or one made from the HTTP status. */
function errorFromBody(status: number, body: Uint8Array, metadata: Headers): ConnectError {
  const fallback = new ConnectError(`HTTP ${status}`, codeFromHttpStatus(status), metadata);
  try {
    return errorFromJsonBytes(body, metadata, fallback);
  } catch {
    // errorFromJsonBytes throws the fallback when the body is not Connect's error JSON.
    return fallback;
  }
}

function mergeHeaders(a: Headers, b: Headers): Headers {
  const merged = new Headers(a);
  b.forEach((value, name) => merged.append(name, value));
  return merged;
}

function abortError(signal: AbortSignal): ConnectError {
  return ConnectError.from(signal.reason, Code.Canceled);
}

/** A Node error of the connection or the stream, kept as the cause (retries across replicas read its code). */
function connectErrorOf(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e.code === "ERR_HTTP2_STREAM_ERROR" && /NGHTTP2_CANCEL/.test(e.message) ? Code.Canceled : Code.Unavailable;
  // Node's words name the peer's address, which is no client's business: they stay in the cause, for logs.
  return new ConnectError(code === Code.Canceled ? "the call was cancelled" : "a gateway service could not be reached", code, undefined, undefined, err);
}
