// AWS Signature Version 4, header form: the authorization headers for one request with a body.
import { createHash, createHmac } from "node:crypto";

/** An access key pair, with the session token that comes with temporary credentials. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** What a signature covers, and who signs it. */
export interface SigningRequest {
  method: string;
  /** Full URL: https://host[:port]/path?query. The path as it will be sent (already percent-encoded, e.g. /model/anthropic.claude-3-haiku-20240307-v1%3A0/converse). */
  url: string;
  /** Headers that will be sent and should be signed (lower- or mixed-case names); `host` is added from the URL, do not require it here. */
  headers: Record<string, string>;
  body: string | Uint8Array;
  region: string;
  service: string;
  credentials: AwsCredentials;
  /** Defaults to now. */
  date?: Date;
  /** Whether to send and sign x-amz-content-sha256 (default true); services other than S3 accept requests without it. */
  contentSha256Header?: boolean;
}

const ALGORITHM = "AWS4-HMAC-SHA256";

// Signing keys by secret, day, region and service: a key serves a whole UTC
// day, so the chain of four HMACs runs once a day per credential. Cleared when
// it grows past a bound, so rotating credentials cannot make it grow for ever.
const signingKeys = new Map<string, Buffer>();
const MAX_SIGNING_KEYS = 64;

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const id = `${secret}\n${day}\n${region}\n${service}`;
  let key = signingKeys.get(id);
  if (key === undefined) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), "aws4_request");
    if (signingKeys.size >= MAX_SIGNING_KEYS) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

/** RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are, the rest become %XX in upper case. */
function uriEncode(text: string): string {
  // encodeURIComponent also leaves ! ' ( ) * alone, which SigV4 encodes.
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// Each segment of the path as sent is encoded again, so %3A becomes %253A,
// which is what services other than S3 compare against. (An http(s) URL's
// pathname is never empty: a URL without a path has "/".)
function canonicalUri(pathname: string): string {
  return pathname.split("/").map(uriEncode).join("/");
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// The query's parameters decoded (as a form would be), encoded again and sorted by name, then value.
function canonicalQuery(params: URLSearchParams): string {
  const pairs: [string, string][] = [];
  for (const [name, value] of params) pairs.push([uriEncode(name), uriEncode(value)]);
  pairs.sort(([an, av], [bn, bv]) => byCodeUnits(an, bn) || byCodeUnits(av, bv));
  return pairs.map(([name, value]) => `${name}=${value}`).join("&");
}

/** The headers to add to the request: authorization, x-amz-date, x-amz-content-sha256 and, with a session token, x-amz-security-token. */
export function signedHeaders(req: SigningRequest): Record<string, string> {
  const url = new URL(req.url);
  const amzDate = (req.date ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(req.body);

  const added: Record<string, string> = { "x-amz-date": amzDate };
  if (req.contentSha256Header !== false) added["x-amz-content-sha256"] = payloadHash;
  if (req.credentials.sessionToken !== undefined) added["x-amz-security-token"] = req.credentials.sessionToken;

  // Lower-case names, values trimmed with runs of white space made one space;
  // a name given twice (in different cases) signs its values joined by commas.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(req.headers)) {
    const key = name.toLowerCase();
    const clean = value.trim().replace(/\s+/g, " ");
    const earlier = headers.get(key);
    headers.set(key, earlier === undefined ? clean : `${earlier},${clean}`);
  }
  // URL.host drops the scheme's default port, as the Host header undici sends does.
  headers.set("host", url.host);
  for (const [name, value] of Object.entries(added)) headers.set(name, value);

  const names = [...headers.keys()].sort();
  const signedNames = names.join(";");
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalUri(url.pathname),
    canonicalQuery(url.searchParams),
    names.map((name) => `${name}:${headers.get(name)}\n`).join(""),
    signedNames,
    payloadHash,
  ].join("\n");

  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const key = signingKey(req.credentials.secretAccessKey, day, req.region, req.service);
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");

  return {
    authorization: `${ALGORITHM} Credential=${req.credentials.accessKeyId}/${scope}, SignedHeaders=${signedNames}, Signature=${signature}`,
    ...added,
  };
}
