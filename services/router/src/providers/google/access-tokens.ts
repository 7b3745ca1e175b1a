import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { ProviderError } from "../provider.js";
import type { GoogleCredentials } from "./credentials.js";

// OAuth access tokens for Google's APIs, from a service account's signed JWT
// (RFC 7523's JWT bearer grant) or a user's refresh token, each kept until
// shortly before it expires: requests reuse one token, and only its renewal
// waits on Google's token endpoint.

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_LIFETIME_S = 3600;
// A token this close to its expiry is renewed while still in use…
const RENEW_BEFORE_MS = 5 * 60_000;
// …and this close, not used at all: a request waits for the new one.
const USABLE_FOR_MS = 30_000;
const TOKEN_TIMEOUT_MS = 10_000;

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString("base64url");

interface Token {
  value: string;
  expiresAt: number;
}

/** One credential's tokens: the current one, and at most one request for the next. */
class TokenSource {
  private current: Token | undefined;
  private renewal: Promise<string> | undefined;
  private key: KeyObject | undefined;

  constructor(private readonly credentials: GoogleCredentials) {}

  /** A token good for a while yet; a promise when it has to be fetched first. */
  token(): string | Promise<string> {
    const now = Date.now();
    const current = this.current;
    if (current !== undefined && current.expiresAt - now > RENEW_BEFORE_MS) return current.value;
    const renewal = (this.renewal ??= this.fetch().finally(() => (this.renewal = undefined)));
    if (current === undefined || current.expiresAt - now <= USABLE_FOR_MS) return renewal;
    // Still good: used meanwhile, and a failed renewal is tried again by the next request.
    renewal.catch(() => undefined);
    return current.value;
  }

  private grant(): URLSearchParams {
    const c = this.credentials;
    if (c.type === "authorized_user") {
      return new URLSearchParams({ grant_type: "refresh_token", client_id: c.clientId, client_secret: c.clientSecret, refresh_token: c.refreshToken });
    }
    const iat = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", ...(c.privateKeyId !== undefined && { kid: c.privateKeyId }) };
    const claims = { iss: c.clientEmail, scope: SCOPE, aud: c.tokenUri, iat, exp: iat + ASSERTION_LIFETIME_S };
    const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    this.key ??= createPrivateKey(c.privateKey);
    return new URLSearchParams({ grant_type: JWT_GRANT, assertion: `${signed}.${base64url(sign("sha256", Buffer.from(signed), this.key))}` });
  }

  private async fetch(): Promise<string> {
    let response: Response;
    try {
      response = await fetch(this.credentials.tokenUri, { method: "POST", body: this.grant(), signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ProviderError(`vertex_ai: Google's token endpoint is unreachable (${code})`, 503, "api_connection_error");
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!response.ok || typeof body.access_token !== "string") {
      const reason = typeof body.error_description === "string" ? body.error_description : typeof body.error === "string" ? body.error : `status ${response.status}`;
      // Refused credentials are the deployment's fault, not the client's: 401 like a provider refusing a key.
      const status = response.status === 400 || response.status === 401 ? 401 : 502;
      throw new ProviderError(`vertex_ai: Google refused the credentials (${reason})`, status, status === 401 ? "authentication_error" : "api_error");
    }
    const lifetimeS = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : ASSERTION_LIFETIME_S;
    this.current = { value: body.access_token, expiresAt: Date.now() + lifetimeS * 1000 };
    return body.access_token;
  }
}

// One source per credential, whichever deployments (and config reloads) use
// it; found by the credentials object a deployment holds, else by content.
const byObject = new WeakMap<GoogleCredentials, TokenSource>();
const byContent = new Map<string, TokenSource>();
const MAX_SOURCES = 64;

function sourceOf(credentials: GoogleCredentials): TokenSource {
  const id = createHash("sha256").update(JSON.stringify(credentials)).digest("hex");
  let source = byContent.get(id);
  if (source === undefined) {
    if (byContent.size >= MAX_SOURCES) byContent.clear();
    source = new TokenSource(credentials);
    byContent.set(id, source);
  }
  byObject.set(credentials, source);
  return source;
}

/** An access token for the credentials: the one in hand, or a promise of the next. */
export function accessToken(credentials: GoogleCredentials): string | Promise<string> {
  return (byObject.get(credentials) ?? sourceOf(credentials)).token();
}
