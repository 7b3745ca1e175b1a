import type { IncomingMessage, ServerResponse } from "node:http";
import { Code, type CallOptions } from "@connectrpc/connect";
import { checkJsonDepth, formFields, gatewayError, keyOfAuthorization, readsAll, readsOwnSpend, storableText, withFields } from "@gateway/common";
import { Access, type AuthorizeResponse } from "@gateway/proto/keys/v1/keys_pb.js";
import type { RequestContext } from "./context.js";

/** Reads the whole request body, refusing more than `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (part: Buffer) => {
      // Past the limit nothing more is kept; how long the rest is read: endAfterRequest.
      if (size > limit) return;
      size += part.length;
      if (size <= limit) {
        parts.push(part);
        return;
      }
      parts.length = 0;
      reject(tooLarge(limit));
    });
    req.on("end", () => resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function tooLarge(limit: number): Error {
  return gatewayError(`request body is larger than ${limit} bytes`, Code.InvalidArgument, { type: "invalid_request_error", status: 413 });
}

/** Content types a JSON body may come with: JSON itself, or a client default that says nothing (curl's, fetch's). */
const JSON_OR_UNSAID = /^(application\/([\w.+-]+\+)?json|text\/plain|application\/x-www-form-urlencoded)\b/i;

/** Reads a multipart/form-data upload (a file and its fields); 415 for a body of another type. */
export async function readUpload(req: IncomingMessage, limit: number): Promise<{ raw: Buffer; body: Record<string, unknown>; contentType: string }> {
  const contentType = req.headers["content-type"];
  if (contentType === undefined || !/^multipart\/form-data\b/i.test(contentType)) {
    throw gatewayError("send the file as multipart/form-data", Code.InvalidArgument, { type: "invalid_request_error", status: 415 });
  }
  const raw = await readBody(req, limit);
  return { raw, body: await formFields(raw, contentType), contentType };
}

/**
 * Reads a JSON object body. A body that does not parse gets 400, or 415 when
 * its content type says it was never meant to be JSON (a form upload, XML).
 * A JSON body is taken whatever its content type, as LiteLLM does.
 */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<{ raw: Buffer; body: Record<string, unknown> }> {
  const raw = await readBody(req, limit);
  checkJsonDepth(raw);
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch {
    const type = req.headers["content-type"];
    if (type !== undefined && !JSON_OR_UNSAID.test(type)) {
      throw gatewayError(`send JSON with Content-Type: application/json, not ${type.split(";")[0]}`, Code.InvalidArgument, {
        type: "invalid_request_error",
        status: 415,
      });
    }
    throw gatewayError("request body is not valid JSON", Code.InvalidArgument, { type: "invalid_request_error" });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw gatewayError("request body must be a JSON object", Code.InvalidArgument, { type: "invalid_request_error" });
  }
  return { raw, body: value as Record<string, unknown> };
}

// How much, and how long, a request is still read after an answer that came
// before it ended (endAfterRequest). Enough that a client that sends its
// whole body before it reads (Python's http.client, many scripts) gets the
// answer for a body some megabytes over the limit, beyond what the socket
// buffers hold; and a client that keeps sending holds the connection no
// longer than this. What is read is dropped, so this costs no memory.
const DRAIN_BYTES = 8 * 2 ** 20;
const DRAIN_MS = 5_000;

/**
 * Ends a response sent before its request arrived in full (a body over the
 * limit, say), which says `connection: close`. A socket closed with input still
 * unread resets the connection, and a client still sending could get that
 * reset instead of the answer; so the rest of the request is read and
 * dropped until it ends, the client hangs up, or the bound above is reached,
 * and only then does the response end and Node close the connection.
 */
export function endAfterRequest(res: ServerResponse, body: string): void {
  const req = res.req;
  res.write(body);
  let drained = 0;
  const end = () => {
    clearTimeout(deadline);
    req.off("data", drop).off("end", end).off("close", end);
    res.end();
  };
  const drop = (part: Buffer) => {
    drained += part.length;
    if (drained > DRAIN_BYTES) end();
  };
  const deadline = setTimeout(end, DRAIN_MS);
  req.on("data", drop).on("end", end).on("close", end);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(status, withFields(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }));
  res.end(body);
}

/** The request's query parameters; parsed when a route asks for them, not for every request. A 400 for text no store can hold (a NUL). */
export function queryOf(req: IncomingMessage): URLSearchParams {
  const query = new URL(req.url ?? "/", "http://edge").searchParams;
  for (const [name, value] of query) {
    if (!storableText(name) || !storableText(value)) {
      throw gatewayError(`query parameter ${JSON.stringify(name)} holds a NUL character`, Code.InvalidArgument, { type: "invalid_request_error", param: name });
    }
  }
  return query;
}

/** An integer query parameter from `min` to `max`, or `fallback` when absent. */
export function intParam(ctx: RequestContext, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  const value = queryOf(ctx.req).get(name);
  if (value === null || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw gatewayError(`${name} must be an integer from ${min} to ${max}: ${value}`, Code.InvalidArgument, { type: "invalid_request_error", param: name });
  }
  return n;
}

/**
 * The caller's key: the header general_settings.litellm_key_header_name
 * names, then LiteLLM's own x-litellm-api-key (both for clients whose
 * Authorization carries something else), then OpenAI's bearer token (or a
 * bare key), then Azure's api-key or Anthropic's x-api-key.
 */
/** Lets a management change on only with the master key or a proxy_admin user's key (the keys service decides). */
export async function asAdmin(ctx: RequestContext): Promise<void> {
  await ctx.options.peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.MANAGEMENT });
}

/** Lets a management read of everything on only with a key that may change things, or a proxy_admin_viewer user's. */
export async function asViewer(ctx: RequestContext): Promise<void> {
  await ctx.options.peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.VIEW });
}

/** Who calls: the keys service's answer about the caller's key, its user's role included. */
export function callerOf(ctx: RequestContext): Promise<AuthorizeResponse> {
  return ctx.options.peers.keys.authorize({ apiKey: apiKeyOf(ctx), requestId: ctx.requestId, access: Access.LOOKUP });
}

/**
 * Whose spend the caller may read: everyone's (undefined) for a key that
 * reads everything, its own user's for an internal user's key (asking for
 * another `user_id` is a 403); any other key is refused.
 */
export async function spendReader(ctx: RequestContext): Promise<string | undefined> {
  const caller = await callerOf(ctx);
  if (readsAll(caller.userRole)) return undefined;
  if (!readsOwnSpend(caller.userRole) || caller.userId === "") {
    throw gatewayError("Only the keys of admins and of users may read spend; this key has no user", Code.PermissionDenied, { type: "permission_error", status: 401 });
  }
  const asked = queryOf(ctx.req).get("user_id");
  if (asked && asked !== caller.userId) throw gatewayError("You may read only your own user's spend", Code.PermissionDenied, { type: "permission_error", param: "user_id" });
  return caller.userId;
}

export function apiKeyOf(ctx: RequestContext): string {
  const { req, options } = ctx;
  const custom = options.keyHeader === undefined ? undefined : req.headers[options.keyHeader];
  if (typeof custom === "string") return keyOfAuthorization(custom);
  const litellm = req.headers["x-litellm-api-key"];
  if (typeof litellm === "string") return keyOfAuthorization(litellm);
  const auth = req.headers.authorization;
  if (auth !== undefined) return keyOfAuthorization(auth);
  const alt = req.headers["api-key"] ?? req.headers["x-api-key"] ?? req.headers["x-goog-api-key"];
  return typeof alt === "string" ? alt.trim() : "";
}

/**
 * Options for a call to the router's model admin or the accounting service:
 * they take the master key only, so the edge calls them with its own (once
 * the route has checked what the caller may see), or the caller's when it
 * has none.
 */
export function asMasterKey(ctx: RequestContext): CallOptions {
  return { headers: { authorization: `Bearer ${ctx.options.masterKey ?? apiKeyOf(ctx)}` } };
}

/** A name in a request's path, as sent: clients escape a "/" in it ("openai%2Fgpt-4o"); text that is not a valid escape is taken as it is. */
export function pathSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A name in a management route's path, as pathSegment reads it; a 400 naming `param` for text no store can hold (a NUL), as queryOf's. */
export function storedPathName(text: string, param: string): string {
  const name = pathSegment(text);
  if (!storableText(name)) throw gatewayError(`${param} holds a NUL character`, Code.InvalidArgument, { type: "invalid_request_error", param });
  return name;
}
