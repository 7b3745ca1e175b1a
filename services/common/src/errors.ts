import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { databaseUnreachable, driverMessage, pgErrorCode } from "./database.js";

/** What a client sees of a failure: an OpenAI-style error and its HTTP status. */
export interface ErrorDetails {
  status: number;
  type: string;
  message: string;
  code: string | null;
  param: string | null;
  /** Extra response headers, e.g. retry-after. */
  headers: Record<string, string>;
  /** Nothing the gateway knows how to describe (a bug, not the client's or a provider's doing): worth an operator's attention. */
  unexpected: boolean;
}

export interface GatewayErrorInit {
  /** OpenAI error type, e.g. "invalid_request_error", "budget_exceeded". */
  type: string;
  /** HTTP status when it differs from the code's usual one. */
  status?: number;
  code?: string;
  param?: string;
  headers?: Record<string, string>;
}

const TYPE = "x-error-type";
const STATUS = "x-http-status";
const ERROR_CODE = "x-error-code";
const PARAM = "x-error-param";
const HEADER_PREFIX = "x-error-header-";

/** A ConnectError that carries the OpenAI error the edge will show. */
export function gatewayError(message: string, code: Code, init: GatewayErrorInit): ConnectError {
  const metadata = new Headers({ [TYPE]: init.type });
  if (init.status !== undefined) metadata.set(STATUS, String(init.status));
  if (init.code !== undefined) metadata.set(ERROR_CODE, init.code);
  if (init.param !== undefined) metadata.set(PARAM, init.param);
  for (const [name, value] of Object.entries(init.headers ?? {})) metadata.set(HEADER_PREFIX + name, value);
  return new ConnectError(message, code, metadata);
}

// The one mapping from Connect codes to HTTP statuses and OpenAI error types.
const BY_CODE: Partial<Record<Code, { status: number; type: string }>> = {
  [Code.InvalidArgument]: { status: 400, type: "invalid_request_error" },
  [Code.FailedPrecondition]: { status: 400, type: "invalid_request_error" },
  [Code.OutOfRange]: { status: 400, type: "invalid_request_error" },
  [Code.Unauthenticated]: { status: 401, type: "authentication_error" },
  [Code.PermissionDenied]: { status: 403, type: "permission_error" },
  [Code.NotFound]: { status: 404, type: "not_found_error" },
  [Code.AlreadyExists]: { status: 409, type: "invalid_request_error" },
  [Code.ResourceExhausted]: { status: 429, type: "rate_limit_error" },
  [Code.Canceled]: { status: 499, type: "request_cancelled" },
  [Code.Unimplemented]: { status: 501, type: "not_implemented" },
  [Code.Unavailable]: { status: 503, type: "service_unavailable" },
  [Code.DeadlineExceeded]: { status: 504, type: "timeout" },
};

// What Postgres answers when the same statement may well pass if tried
// again: a deadlock, a serialization failure, a lock or statement timeout.
const TRY_AGAIN = new Set(["40001", "40P01", "55P03", "57014"]);

/**
 * A service's failure as a ConnectError: a ConnectError as it is; a database
 * that cannot be reached (Postgres down or restarting) as Unavailable (503),
 * not as an internal error, and without the driver's words; a statement
 * Postgres refused by its code and Postgres's words, not drizzle's (which
 * repeat the statement and its parameters into every log line the error
 * reaches), as Unavailable when trying again may pass, else `fallback`;
 * anything else as `fallback`.
 */
export function serviceError(err: unknown, fallback = Code.Unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (databaseUnreachable(err)) return new ConnectError("the database is unavailable", Code.Unavailable, undefined, undefined, err);
  const code = pgErrorCode(err);
  if (code !== undefined) return new ConnectError(`the database refused a statement (${code}: ${driverMessage(err)})`, TRY_AGAIN.has(code) ? Code.Unavailable : fallback, undefined, undefined, err);
  return ConnectError.from(err, fallback);
}

/**
 * connect-node's server path to the errors h2-handlers.ts gives: what a
 * handler throws, before its answer or mid-stream, through serviceError.
 */
export const serviceErrorInterceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    return res.stream ? { ...res, message: asServiceErrors(res.message) } : res;
  } catch (err) {
    throw serviceError(err, Code.Internal);
  }
};

async function* asServiceErrors<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw serviceError(err, Code.Internal);
  }
}

/** A failure the gateway has no description for: a bug, not the client's or a provider's doing. */
export function isUnexpected(err: ConnectError): boolean {
  return err.code === Code.Internal || err.code === Code.Unknown;
}

/** Turns anything thrown by a service call into what the client sees. */
export function describeError(err: unknown): ErrorDetails {
  const ce = serviceError(err);
  const fallback = BY_CODE[ce.code] ?? { status: 500, type: "internal_server_error" };
  const meta = ce.metadata;
  const headers: Record<string, string> = {};
  meta.forEach((value, name) => {
    if (name.startsWith(HEADER_PREFIX)) headers[name.slice(HEADER_PREFIX.length)] = value;
  });
  const status = Number(meta.get(STATUS));
  const unexpected = isUnexpected(ce);
  return {
    status: Number.isInteger(status) && status >= 400 ? status : fallback.status,
    type: meta.get(TYPE) ?? fallback.type,
    // An unexpected error's own text may say more than a client should see.
    message: unexpected ? "internal error" : ce.rawMessage,
    code: meta.get(ERROR_CODE),
    param: meta.get(PARAM),
    headers,
    unexpected,
  };
}
