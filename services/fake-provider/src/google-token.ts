import { verify } from "node:crypto";
import type { Behavior } from "./behavior.js";
import { arrive, isRecord, sendJson, shown, type Handler, type Json } from "./reply.js";
import type { IssuedTokens } from "./tokens.js";

// Google's OAuth 2.0 token endpoint (POST /token, standing in for
// https://oauth2.googleapis.com/token), shapes from Google's public OAuth
// docs: a form-encoded body exchanging a service account's signed JWT (the
// jwt-bearer grant) or an authorized user's refresh token for an access
// token, answered {access_token, expires_in, token_type} or, refused,
// {error, error_description}. And the metadata server's token for the
// workload's own service account (GET /computeMetadata/v1/instance/
// service-accounts/default/token, with Metadata-Flavor: Google), as GCE and
// GKE's workload identity serve it.

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
/** The form parameters each grant needs, besides grant_type. */
const REQUIRED = new Map([
  [JWT_BEARER, ["assertion"]],
  ["refresh_token", ["client_id", "client_secret", "refresh_token"]],
]);
const JWT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
/** Longest an assertion may live, in seconds. */
const MAX_ASSERTION_LIFETIME = 3600;
/** How far ahead of this server's clock an assertion's iat may be, in seconds. */
const MAX_CLOCK_SKEW = 300;
const DEFAULT_TOKEN_LIFETIME = 3599;
const TIMEFRAME =
  "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

function decodePart(part: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why Google would refuse a service account's JWT assertion meant for
 * `audience`, or undefined when it takes it. The signature is checked only
 * when there is a public key to check it with.
 */
function assertionRefusal(assertion: string, audience: string, publicKey: string | undefined): string | undefined {
  const parts = JWT.exec(assertion);
  if (!parts) return "Invalid JWT: it must be three base64url-encoded parts separated by dots.";
  const [, encodedHeader, encodedClaims, signature] = parts as unknown as [string, string, string, string];
  const header = decodePart(encodedHeader);
  const claims = decodePart(encodedClaims);
  if (!header || !claims) return "Invalid JWT: the header and the claim set must be JSON objects.";
  if (header.alg !== "RS256") return `Invalid JWT: alg must be RS256, not ${shown(header.alg)}.`;
  if (publicKey !== undefined) {
    const signed = Buffer.from(`${encodedHeader}.${encodedClaims}`);
    if (!verify("RSA-SHA256", signed, publicKey, Buffer.from(signature, "base64url"))) return "Invalid JWT Signature.";
  }
  if (typeof claims.iss !== "string" || claims.iss === "") return "Invalid JWT: the iss claim is required.";
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : [];
  if (!scopes.includes(CLOUD_PLATFORM)) return `Invalid JWT: the scope claim must include ${CLOUD_PLATFORM}.`;
  if (claims.aud !== audience) return `Invalid JWT: Failed audience check. The right audience is ${audience}`;
  const { iat, exp } = claims;
  const now = Date.now() / 1000;
  if (typeof iat !== "number" || typeof exp !== "number") return TIMEFRAME;
  if (exp <= iat || exp - iat > MAX_ASSERTION_LIFETIME || iat > now + MAX_CLOCK_SKEW || exp <= now) return TIMEFRAME;
  return undefined;
}

/** Why Google would refuse an authorized user's refresh token: here, that it is not the required key. */
function refreshRefusal(refreshToken: string, requiredKey: string | undefined): string | undefined {
  return requiredKey !== undefined && refreshToken !== requiredKey ? "Bad Request" : undefined;
}

/**
 * Builds the handler for POST /token, issuing into `tokens`; `getBehavior` is
 * read per request. Injected failures are for model routes and leave it be.
 */
export function createGoogleTokenHandler(getBehavior: () => Behavior, tokens: IssuedTokens): Handler {
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const behavior = getBehavior();
    if (call.method !== "POST") return sendJson(res, 405, { error: "invalid_request", error_description: `Method not allowed: ${call.method}` });
    const form = new URLSearchParams(call.rawBody.toString("utf8"));
    const grant = form.get("grant_type") ?? "";
    const required = REQUIRED.get(grant);
    if (!required) return sendJson(res, 400, { error: "unsupported_grant_type", error_description: `Invalid grant_type: ${grant}` });
    const missing = required.find((name) => !form.get(name));
    if (missing !== undefined) return sendJson(res, 400, { error: "invalid_request", error_description: `Missing required parameter: ${missing}` });
    const refusal =
      grant === JWT_BEARER
        ? assertionRefusal(form.get("assertion") as string, `http://${call.headers.host ?? ""}/token`, behavior.serviceAccountPublicKey)
        : refreshRefusal(form.get("refresh_token") as string, behavior.requireApiKey);
    if (refusal !== undefined) return sendJson(res, 400, { error: "invalid_grant", error_description: refusal });
    const lifetime = behavior.accessTokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME;
    sendJson(res, 200, { access_token: tokens.issue(lifetime), expires_in: lifetime, token_type: "Bearer" });
  };
}

/** The metadata server's path for the default service account's access token. */
export const METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token";

/** Builds the handler for the metadata server's token, issuing into `tokens`; it wants the Metadata-Flavor header, as Google's does. */
export function createMetadataTokenHandler(getBehavior: () => Behavior, tokens: IssuedTokens): Handler {
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    if (call.method !== "GET" || call.path !== METADATA_TOKEN_PATH) return sendJson(res, 404, { error: "not_found", error_description: `${call.path} is not found` });
    if (call.headers["metadata-flavor"] !== "Google") return sendJson(res, 403, { error: "forbidden", error_description: "Missing required header: Metadata-Flavor: Google" });
    const lifetime = getBehavior().accessTokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME;
    sendJson(res, 200, { access_token: tokens.issue(lifetime), expires_in: lifetime, token_type: "Bearer" }, { "metadata-flavor": "Google" });
  };
}
