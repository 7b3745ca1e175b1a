import { createHash, randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Behavior } from "./behavior.js";
import { SIGNATURE_MISMATCH, signedWith } from "./bedrock.js";
import { arrive, type Handler, type IncomingCall } from "./reply.js";
import type { IssuedTokens } from "./tokens.js";

// AWS Security Token Service (POST /sts, standing in for
// https://sts.amazonaws.com), shapes from AWS's public STS API reference:
// Query API requests (a form-encoded body naming Action and
// Version=2011-06-15) for AssumeRoleWithWebIdentity (unsigned, trading an
// identity provider's token) and AssumeRole (SigV4-signed for service "sts"),
// answered with temporary credentials in <{Action}Response> XML, or refused
// in the Query API's <ErrorResponse> XML. The session tokens issued go into
// a store Bedrock's routes check (bedrock.ts).

const VERSION = "2011-06-15";
const NAMESPACE = `https://sts.amazonaws.com/doc/${VERSION}/`;
const ACTIONS = new Set(["AssumeRole", "AssumeRoleWithWebIdentity"]);
/** An IAM role's ARN: its partition, account, and name (the last part of its path). */
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const MIN_DURATION = 900;
const MAX_DURATION = 43200;
const DEFAULT_DURATION = 3600;
/** The temporary credentials' secret when no key is required. */
const FAKE_SECRET = "fakeTemporarySecretAccessKey0000000000000";
const UNVERIFIED_TOKEN = "The web identity token could not be verified: it is not the one this fake identity provider accepts.";

/** Why STS refuses a request: the HTTP status and the error's code and message. */
interface Refusal {
  status: number;
  code: string;
  message: string;
}

/** The role a request asks for, and for how long. */
interface Role {
  partition: string;
  account: string;
  name: string;
  arn: string;
  session: string;
  durationSeconds: number | undefined;
}

const refuse = (code: string, message: string, status = 400): Refusal => ({ status, code, message });

const invalid = (value: string, field: string, constraint: string): Refusal =>
  refuse("ValidationError", `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must ${constraint}`);

const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Why STS would refuse the request before reading its role: method, version, action, or (AssumeRole) its signature. */
function requestRefusal(call: IncomingCall, form: URLSearchParams, secret: string | undefined): Refusal | undefined {
  if (call.method !== "POST") return refuse("InvalidAction", `Only POST is served here, not ${call.method}.`, 405);
  const action = form.get("Action");
  if (!action) return refuse("InvalidAction", "The request must contain the parameter Action.");
  const version = form.get("Version");
  if (!version) return refuse("MissingParameter", "The request must contain the parameter Version.");
  if (version !== VERSION || !ACTIONS.has(action)) return refuse("InvalidAction", `Could not find operation ${action} for version ${version}.`);
  if (action === "AssumeRole" && secret !== undefined) {
    const authorization = call.headers.authorization;
    if (authorization === undefined) return refuse("MissingAuthenticationToken", "Request is missing Authentication Token", 403);
    if (!signedWith(call, authorization, secret, "sts")) return refuse("SignatureDoesNotMatch", SIGNATURE_MISMATCH, 403);
  }
  return undefined;
}

/**
 * Why a name-like parameter (`field` as AWS spells it in messages) breaks its
 * length or character constraints; the message quotes `pattern` without its anchors.
 */
function nameRefusal(value: string, field: string, min: number, max: number, pattern: RegExp): Refusal | undefined {
  if (value.length < min) return invalid(value, field, `have length greater than or equal to ${min}`);
  if (value.length > max) return invalid(value, field, `have length less than or equal to ${max}`);
  if (!pattern.test(value)) return invalid(value, field, `satisfy regular expression pattern: ${pattern.source.slice(1, -1)}`);
  return undefined;
}

/** The role the form asks for, or why STS refuses it; `required` are the action's other required parameters. */
function roleOf(form: URLSearchParams, required: string[]): Role | Refusal {
  const missing = ["RoleArn", "RoleSessionName", ...required].find((name) => !form.get(name));
  if (missing !== undefined) return refuse("MissingParameter", `The request must contain the parameter ${missing}.`);
  const arn = form.get("RoleArn") as string;
  const parts = ROLE_ARN.exec(arn);
  if (!parts) return refuse("ValidationError", `Request ARN is invalid: ${arn}`);
  const session = form.get("RoleSessionName") as string;
  const badSession = nameRefusal(session, "roleSessionName", 2, 64, /^[\w+=,.@-]*$/);
  if (badSession) return badSession;
  const externalId = form.get("ExternalId");
  const badExternalId = externalId === null ? undefined : nameRefusal(externalId, "externalId", 2, 1224, /^[\w+=,.@:/-]*$/);
  if (badExternalId) return badExternalId;
  const duration = form.get("DurationSeconds");
  if (duration !== null) {
    if (!/^\d+$/.test(duration)) return invalid(duration, "durationSeconds", "be an integer");
    if (Number(duration) < MIN_DURATION) return invalid(duration, "durationSeconds", `have value greater than or equal to ${MIN_DURATION}`);
    if (Number(duration) > MAX_DURATION) return invalid(duration, "durationSeconds", `have value less than or equal to ${MAX_DURATION}`);
  }
  const [, partition, account, name] = parts as unknown as [string, string, string, string];
  return { partition, account, name, arn, session, durationSeconds: duration === null ? undefined : Number(duration) };
}

/** ISO 8601 in UTC to the second, as STS writes Expiration. */
const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Issues temporary credentials for `role`, as the XML of {Action}Result's children. */
function credentialsXml(role: Role, behavior: Behavior, sessions: IssuedTokens): string {
  const seconds = behavior.assumedRoleSeconds ?? role.durationSeconds ?? DEFAULT_DURATION;
  const sessionToken = sessions.issue(seconds);
  const expiration = isoSeconds(Date.now() + seconds * 1000);
  // A role's id is fixed per role, as AWS's are: here derived from its ARN.
  const roleId = `AROA${createHash("sha256").update(role.arn).digest("hex").slice(0, 17).toUpperCase()}`;
  return (
    `<Credentials><AccessKeyId>ASIAFAKE${sessions.issued}</AccessKeyId>` +
    `<SecretAccessKey>${escapeXml(behavior.requireApiKey ?? FAKE_SECRET)}</SecretAccessKey>` +
    `<SessionToken>${sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
    `<AssumedRoleUser><Arn>arn:${role.partition}:sts::${role.account}:assumed-role/${role.name}/${role.session}</Arn>` +
    `<AssumedRoleId>${roleId}:${role.session}</AssumedRoleId></AssumedRoleUser>`
  );
}

/** What STS answers the request: the action and its result's XML, or a refusal. */
function answer(call: IncomingCall, behavior: Behavior, sessions: IssuedTokens): { action: string; result: string } | Refusal {
  const form = new URLSearchParams(call.rawBody.toString("utf8"));
  const refused = requestRefusal(call, form, behavior.requireApiKey);
  if (refused) return refused;
  const action = form.get("Action") as string;
  const webIdentity = action === "AssumeRoleWithWebIdentity";
  const role = roleOf(form, webIdentity ? ["WebIdentityToken"] : []);
  if ("code" in role) return role;
  if (webIdentity && behavior.requireApiKey !== undefined && form.get("WebIdentityToken") !== behavior.requireApiKey) {
    return refuse("InvalidIdentityToken", UNVERIFIED_TOKEN);
  }
  return { action, result: credentialsXml(role, behavior, sessions) };
}

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  res.writeHead(status, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml), "x-amzn-requestid": requestId });
  res.end(xml);
}

/**
 * Builds the handler for POST /sts, issuing session tokens into `sessions`;
 * `getBehavior` is read per request. With a key required, AssumeRole must be
 * signed with it as the secret access key and AssumeRoleWithWebIdentity must
 * bring it as the web identity token; either way the credentials issued have
 * it as their secret, so Bedrock's routes take requests signed with them.
 * Injected failures are for model routes and leave it be.
 */
export function createAwsStsHandler(getBehavior: () => Behavior, sessions: IssuedTokens): Handler {
  return async (call, res) => {
    const signal = await arrive(res, getBehavior);
    if (!signal) return;
    const requestId = randomUUID();
    const answered = answer(call, getBehavior(), sessions);
    if ("code" in answered) {
      const { status, code, message } = answered;
      const error = `<Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
      return sendXml(res, status, `<ErrorResponse xmlns="${NAMESPACE}">${error}<RequestId>${requestId}</RequestId></ErrorResponse>`, requestId);
    }
    const { action, result } = answered;
    const metadata = `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>`;
    sendXml(res, 200, `<${action}Response xmlns="${NAMESPACE}"><${action}Result>${result}</${action}Result>${metadata}</${action}Response>`, requestId);
  };
}
