import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ProviderError } from "../provider.js";
import { renewingBy, type Expiring } from "../renewing.js";
import { signedHeaders, type AwsCredentials } from "./sigv4.js";

// Temporary credentials for an IAM role, from AWS STS: AssumeRole signed with
// long-lived keys, or AssumeRoleWithWebIdentity with an OIDC token (what
// Kubernetes on EKS hands a pod: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE).
// Kept and renewed before they expire (renewing.ts). STS's query API and its
// XML answers are from AWS's public reference.

/** How the role is assumed: with long-lived keys, or with a web identity token (as is, or read from a file at each renewal). */
export type RoleGrant = { credentials: AwsCredentials } | { webIdentityToken: string } | { webIdentityTokenFile: string };

export interface RoleToAssume {
  roleArn: string;
  sessionName: string;
  externalId: string | undefined;
  /** STS's address, e.g. https://sts.us-east-1.amazonaws.com. */
  stsEndpoint: string;
  /** The region STS requests are signed for. */
  region: string;
  grant: RoleGrant;
}

const SESSION_SECONDS = 3600;
const STS_TIMEOUT_MS = 10_000;

/** The text of an XML element of the answer (STS's elements hold plain text). */
function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

function stsForm(role: RoleToAssume): { action: string; form: URLSearchParams } {
  const form = new URLSearchParams({ Version: "2011-06-15", RoleArn: role.roleArn, RoleSessionName: role.sessionName, DurationSeconds: String(SESSION_SECONDS) });
  const { grant } = role;
  if ("credentials" in grant) {
    if (role.externalId !== undefined) form.set("ExternalId", role.externalId);
    form.set("Action", "AssumeRole");
    return { action: "AssumeRole", form };
  }
  form.set("WebIdentityToken", "webIdentityToken" in grant ? grant.webIdentityToken : readFileSync(grant.webIdentityTokenFile, "utf8").trim());
  form.set("Action", "AssumeRoleWithWebIdentity");
  return { action: "AssumeRoleWithWebIdentity", form };
}

function credentialsFetch(role: RoleToAssume): () => Promise<Expiring<AwsCredentials>> {
  return async () => {
    let request: { action: string; form: URLSearchParams };
    try {
      request = stsForm(role);
    } catch (err) {
      throw new ProviderError(`bedrock: cannot read the web identity token file (${(err as NodeJS.ErrnoException).code ?? "error"})`, 401, "authentication_error");
    }
    const body = request.form.toString();
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded; charset=utf-8" };
    const { grant } = role;
    if ("credentials" in grant) Object.assign(headers, signedHeaders({ method: "POST", url: role.stsEndpoint, headers, body, region: role.region, service: "sts", credentials: grant.credentials }));
    let response: Response;
    try {
      response = await fetch(role.stsEndpoint, { method: "POST", headers, body, signal: AbortSignal.timeout(STS_TIMEOUT_MS) });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ProviderError(`bedrock: AWS STS is unreachable (${code})`, 503, "api_connection_error");
    }
    const xml = await response.text().catch(() => "");
    const accessKeyId = element(xml, "AccessKeyId");
    const secretAccessKey = element(xml, "SecretAccessKey");
    const expiration = Date.parse(element(xml, "Expiration") ?? "");
    if (!response.ok || accessKeyId === undefined || secretAccessKey === undefined || Number.isNaN(expiration)) {
      const reason = [element(xml, "Code"), element(xml, "Message")].filter(Boolean).join(": ") || `status ${response.status}`;
      // A role the gateway may not assume is the deployment's fault, not the client's: 401, as a refused key.
      const status = response.status >= 400 && response.status < 500 ? 401 : 502;
      throw new ProviderError(`bedrock: AWS STS refused ${request.action} for ${role.roleArn} (${reason})`, status, status === 401 ? "authentication_error" : "api_error");
    }
    return { value: { accessKeyId, secretAccessKey, sessionToken: element(xml, "SessionToken") }, expiresAt: expiration };
  };
}

const roles = renewingBy((role: RoleToAssume) => createHash("sha256").update(JSON.stringify(role)).digest("hex"), credentialsFetch);

/** The role's temporary credentials: those in hand, or a promise of the next. */
export function assumedRole(role: RoleToAssume): AwsCredentials | Promise<AwsCredentials> {
  return roles(role).get();
}
