import type * as http2 from "node:http2";
import { constants } from "node:http2";
import type { DescMessage, DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions, type ConnectRouter, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { CallContext } from "./call-context.js";
import { drained } from "./drained.js";
import { serviceError } from "./errors.js";
import { LightAbortController } from "./light-abort-controller.js";
import { binaryCodec, type FlatCodec } from "./flat-codec.js";
import { INTERNAL_CREDENTIAL_HEADER, type InternalCredential } from "./internal-credential.js";

type Handler = (req: unknown, ctx: HandlerContext) => unknown;

interface Entry {
  service: DescService;
  method: DescMethod;
  handler: Handler;
  contentType: string;
  input: FlatCodec<DescMessage>;
  output: FlatCodec<DescMessage>;
}

const ENVELOPE_HEADER = 5;
const UNARY = "application/proto";
const STREAM = "application/connect+proto";
/** The end of a stream that has no trailers and no error. */
const PLAIN_END = envelope(endStreamFlag, Buffer.from("{}"));

/**
 * Serves the services' unary and server-streaming methods to binary Connect
 * calls straight off HTTP/2 streams, the calls h2-transport.ts makes, at a
 * fraction of connect-node's cost per call (its request and response
 * objects, an AbortController per call aborted at the end, async iterables
 * layered over the body). Any other call (JSON, gRPC, compressed, another
 * method kind) goes on to connect-node's handler, which serves the same
 * implementations. A call without the port's credential is refused before
 * its body is read.
 */
export class H2Handlers {
  private readonly methods = new Map<string, Entry>();

  /**
   * `maxBytes`: the largest request message taken; a larger one is refused
   * without reading it all. `credential`: what every call must carry.
   */
  constructor(
    private readonly maxBytes: number,
    private readonly credential: InternalCredential,
  ) {}

  /** A router that registers with `router` and also records the unary and server-streaming methods here. */
  recording(router: ConnectRouter): ConnectRouter {
    const recorder: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service: (service, implementation, options) => {
        this.add(service, implementation as Partial<ServiceImpl<DescService>>);
        router.service(service, implementation, options);
        return recorder;
      },
      rpc: (method, impl, options) => {
        router.rpc(method, impl, options);
        return recorder;
      },
    };
    return recorder;
  }

  private add(service: DescService, implementation: Partial<ServiceImpl<DescService>>): void {
    for (const method of service.methods) {
      const fn = (implementation as Record<string, Handler | undefined>)[method.localName];
      if (typeof fn !== "function") continue;
      if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") continue;
      const contentType = method.methodKind === "unary" ? UNARY : STREAM;
      this.methods.set(`/${service.typeName}/${method.name}`, {
        service,
        method,
        handler: fn.bind(implementation),
        contentType,
        input: binaryCodec(method.input),
        output: binaryCodec(method.output),
      });
    }
  }

  /** Serves the stream when it is a call this handles; false leaves it to connect-node. */
  serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean {
    const entry = this.methods.get(headers[":path"] ?? "");
    if (!entry || headers[":method"] !== "POST" || headers["content-type"] !== entry.contentType) return false;
    const encoding = headers[entry.method.methodKind === "unary" ? "content-encoding" : "connect-content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    // A stream's errors (the caller reset it) show as its close, which cancels the call.
    stream.on("error", () => {});
    run(entry, stream, headers, this.maxBytes, this.credential).catch(() => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    return true;
  }
}

async function run(entry: Entry, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, maxBytes: number, credential: InternalCredential): Promise<void> {
  const abort = new LightAbortController();
  const timeoutMs = Number(headers["connect-timeout-ms"]) || undefined;
  const deadline = timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(new ConnectError("the call's deadline passed", Code.DeadlineExceeded)), timeoutMs);
  // The caller went away (it cancelled, or the connection dropped).
  const onClose = () => abort.abort(new ConnectError("the caller cancelled the call", Code.Canceled));
  stream.once("close", onClose);
  const options: CallOptions = { signal: abort.signal, headers: requestHeaders(headers) };
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  const ctx = new CallContext(entry.service, entry.method, options, "connect");
  try {
    credential.admit(headers[INTERNAL_CREDENTIAL_HEADER], headers.authorization);
    const body = await readBody(stream, maxBytes);
    if (entry.method.methodKind === "unary") {
      const response = await entry.handler(decode(entry, body), ctx);
      const bytes = entry.output.encode(response as Message);
      if (stream.destroyed) return;
      stream.respond(responseHeaders(ctx, 200, UNARY));
      finish(stream, bytes);
      return;
    }
    await streamResponses(entry, stream, ctx, unenvelope(body));
  } catch (err) {
    if (stream.destroyed) return;
    const error = abort.signal.aborted && abort.signal.reason instanceof ConnectError ? abort.signal.reason : serviceError(err, Code.Internal);
    if (entry.method.methodKind !== "unary") return endStream(stream, ctx, error);
    if (!stream.headersSent) stream.respond(responseHeaders(ctx, codeToHttpStatus(error.code), "application/json", error.metadata));
    finish(stream, errorToJsonBytes(error, {}));
  } finally {
    clearTimeout(deadline);
    stream.off("close", onClose);
  }
}

async function streamResponses(entry: Entry, stream: http2.ServerHttp2Stream, ctx: CallContext, request: Uint8Array): Promise<void> {
  const responses = entry.handler(decode(entry, request), ctx) as AsyncIterable<Message>;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  for await (const response of responses) {
    if (stream.destroyed) return;
    if (!stream.headersSent) stream.respond(responseHeaders(ctx, 200, STREAM));
    // Messages written in one go (a whole answer: Started, the response,
    // Finished, and the end) leave in one write and one DATA frame instead
    // of one write each and an empty frame for the end; a message on its
    // own still leaves at once.
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    const bytes = entry.output.encode(response);
    if (!stream.write(envelope(0, bytes))) await drained(stream);
  }
  if (!stream.destroyed) endStream(stream, ctx, undefined);
}

/** Ends a streaming call with Connect's end-of-stream message: the trailers, and the error when there is one. */
function endStream(stream: http2.ServerHttp2Stream, ctx: CallContext, error: ConnectError | undefined): void {
  if (!stream.headersSent) stream.respond(responseHeaders(ctx, 200, STREAM));
  const trailer = ctx.responseTrailerIfAny();
  if (error === undefined && trailer === undefined) return finish(stream, PLAIN_END);
  const json = JSON.stringify(endStreamToJson(trailer ?? new Headers(), error, {}));
  finish(stream, envelope(endStreamFlag, Buffer.from(json)));
}

/**
 * Writes a response's last bytes and ends the stream once they are written,
 * in an empty frame of its own. Ended together, the frame that ends the
 * stream closes it (the caller has ended its side) before Node reports the
 * write done, and Node then builds an error nobody sees: a stack trace per
 * call, some 7% of the router's CPU per request in split mode.
 */
function finish(stream: http2.ServerHttp2Stream, bytes: Uint8Array): void {
  stream.write(bytes, (err) => {
    if (!err && !stream.destroyed) stream.end();
  });
}

function decode(entry: Entry, bytes: Uint8Array): Message {
  try {
    return entry.input.decode(bytes);
  } catch (err) {
    throw new ConnectError(`the request is not a ${entry.method.input.typeName}`, Code.InvalidArgument, undefined, undefined, err);
  }
}

function envelope(flags: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER + bytes.length);
  out[0] = flags;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, ENVELOPE_HEADER);
  return out;
}

/** The one request message of a server-streaming call. */
function unenvelope(body: Buffer): Uint8Array {
  if (body.length < ENVELOPE_HEADER || body[0] !== 0 || body.readUInt32BE(1) !== body.length - ENVELOPE_HEADER) {
    throw new ConnectError("a server-streaming call sends exactly one uncompressed message", Code.InvalidArgument);
  }
  return body.subarray(ENVELOPE_HEADER);
}

function readBody(stream: http2.ServerHttp2Stream, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) return void chunks.push(chunk);
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("close", onClose);
      chunks.length = 0;
      reject(new ConnectError(`the request message is larger than ${maxBytes} bytes`, Code.ResourceExhausted));
    };
    const onEnd = () => {
      stream.off("data", onData);
      stream.off("close", onClose);
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onClose = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      reject(new ConnectError("the caller cancelled the call", Code.Canceled));
    };
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("close", onClose);
  });
}

/** The caller's headers, without HTTP/2's pseudo-headers. */
function requestHeaders(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (name[0] !== ":" && value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/**
 * A response's headers: its status and content type, what the handler set on
 * its response headers (and, for unary calls, trailers, sent as "trailer-"
 * headers), and `more` (an error's metadata). Filled one field at a time,
 * not spread: see with-fields.ts.
 */
function responseHeaders(ctx: CallContext, status: number, contentType: string, more?: Headers): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ":status": status };
  ctx.responseHeaderIfAny()?.forEach((value, name) => (out[name] = value));
  if (ctx.method.methodKind === "unary") ctx.responseTrailerIfAny()?.forEach((value, name) => (out[`trailer-${name}`] = value));
  more?.forEach((value, name) => (out[name] = value));
  out["content-type"] = contentType;
  return out;
}
