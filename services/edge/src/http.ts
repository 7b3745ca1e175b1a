import type { IncomingMessage, ServerResponse } from "node:http";
import { Code } from "@connectrpc/connect";
import { gatewayError, withFields } from "@gateway/common";

/** Reads the whole request body, refusing more than `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (part: Buffer) => {
      size += part.length;
      if (size > limit) {
        reject(tooLarge(limit));
        req.destroy();
        return;
      }
      parts.push(part);
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

/**
 * Reads a JSON object body. A body that does not parse gets 400, or 415 when
 * its content type says it was never meant to be JSON (a form upload, XML).
 * A JSON body is taken whatever its content type, as LiteLLM does.
 */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<{ raw: Buffer; body: Record<string, unknown> }> {
  const raw = await readBody(req, limit);
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

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(status, withFields(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }));
  res.end(body);
}

/** The request's query parameters; parsed when a route asks for them, not for every request. */
export function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? "/", "http://edge").searchParams;
}

/** The caller's key: OpenAI's bearer token, or Azure's api-key / Anthropic's x-api-key header. */
export function apiKeyOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (auth !== undefined) return auth.startsWith("Bearer ") ? auth.slice(7).trim() : auth.trim();
  const alt = req.headers["api-key"] ?? req.headers["x-api-key"];
  return typeof alt === "string" ? alt.trim() : "";
}
