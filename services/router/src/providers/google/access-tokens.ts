import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import { ProviderError } from "../provider.js";
import { renewingBy, type Expiring } from "../renewing.js";
import type { GoogleCredentials, ServiceAccount } from "./credentials.js";

// OAuth access tokens for Google's APIs, from a service account's signed JWT
// (RFC 7523's JWT bearer grant), a user's refresh token or the metadata
// server (the workload's own service account), each kept until
// shortly before it expires (renewing.ts): requests reuse one token, and only
// its renewal waits on Google's token endpoint.

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ASSERTION_LIFETIME_S = 3600;
const TOKEN_TIMEOUT_MS = 10_000;

const base64url = (bytes: Buffer | string) => Buffer.from(bytes).toString("base64url");

/** The token endpoint's form for a service account: a JWT signed with its key. */
function jwtGrant(c: ServiceAccount, key: KeyObject): URLSearchParams {
  const iat = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", typ: "JWT", ...(c.privateKeyId !== undefined && { kid: c.privateKeyId }) };
  const claims = { iss: c.clientEmail, scope: SCOPE, aud: c.tokenUri, iat, exp: iat + ASSERTION_LIFETIME_S };
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return new URLSearchParams({ grant_type: JWT_GRANT, assertion: `${signed}.${base64url(sign("sha256", Buffer.from(signed), key))}` });
}

/** The metadata server's path for the workload's service account's token. */
const METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token";

/** How a token is asked for: a form posted to the credentials' token endpoint, or the metadata server's GET. */
function tokenRequest(c: GoogleCredentials): () => { url: string; init: RequestInit } {
  if (c.type === "metadata_server") return () => ({ url: `http://${c.host}${METADATA_TOKEN_PATH}`, init: { headers: { "metadata-flavor": "Google" } } });
  if (c.type === "authorized_user") {
    const form = { grant_type: "refresh_token", client_id: c.clientId, client_secret: c.clientSecret, refresh_token: c.refreshToken };
    return () => ({ url: c.tokenUri, init: { method: "POST", body: new URLSearchParams(form) } });
  }
  let key: KeyObject | undefined;
  return () => ({ url: c.tokenUri, init: { method: "POST", body: jwtGrant(c, (key ??= createPrivateKey(c.privateKey))) } });
}

/** Fetches a new token for the credentials. */
function tokenFetch(c: GoogleCredentials): () => Promise<Expiring<string>> {
  const request = tokenRequest(c);
  return async () => {
    let response: Response;
    try {
      const { url, init } = request();
      response = await fetch(url, { ...init, signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
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
    return { value: body.access_token, expiresAt: Date.now() + lifetimeS * 1000 };
  };
}

const tokens = renewingBy((c: GoogleCredentials) => createHash("sha256").update(JSON.stringify(c)).digest("hex"), tokenFetch);

/** An access token for the credentials: the one in hand, or a promise of the next. */
export function accessToken(credentials: GoogleCredentials): string | Promise<string> {
  return tokens(credentials).get();
}
