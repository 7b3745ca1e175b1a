import { createHash, createHmac } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "../src/index.js";

const SECRET = "fake/Secret+Access/Key";
const ROLE_ARN = "arn:aws:iam::123456789012:role/gateway-bedrock";
const FORM = "application/x-www-form-urlencoded; charset=utf-8";
const CONVERSE = `/model/${encodeURIComponent("anthropic.claude-3-haiku-20240307-v1:0")}/converse`;
const hello = JSON.stringify({ messages: [{ role: "user", content: [{ text: "hello" }] }] });

let provider: FakeProvider;

beforeEach(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: SECRET } });
});

afterEach(async () => {
  await provider.close();
});

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

interface Signing {
  accessKeyId: string;
  secret: string;
  service: string;
  sessionToken?: string;
}

/** The headers of a POST signed here with SigV4 in us-east-1, the session token among the signed headers when there is one. */
function sign(path: string, body: string, contentType: string, signing: Signing): Record<string, string> {
  const date = "20260102T030405Z";
  const signedValues: Record<string, string> = {
    "content-type": contentType,
    host: new URL(provider.url).host,
    "x-amz-date": date,
    ...(signing.sessionToken !== undefined && { "x-amz-security-token": signing.sessionToken }),
  };
  const names = Object.keys(signedValues).sort();
  const canonicalUri = path.split("/").map(encodeURIComponent).join("/");
  const canonicalRequest = ["POST", canonicalUri, "", names.map((name) => `${name}:${signedValues[name]}\n`).join(""), names.join(";"), sha256(body)].join("\n");
  const scope = `${date.slice(0, 8)}/us-east-1/${signing.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${signing.secret}`, date.slice(0, 8)), "us-east-1"), signing.service), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  const { host: _host, ...sent } = signedValues;
  return { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${signing.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}` };
}

function sts(params: Record<string, string>, headers: (body: string) => Record<string, string> = () => ({ "content-type": FORM })): Promise<Response> {
  const body = new URLSearchParams(params).toString();
  return fetch(`${provider.url}/sts`, { method: "POST", headers: headers(body), body });
}

const webIdentity = (params: Record<string, string> = {}) =>
  sts({ Action: "AssumeRoleWithWebIdentity", Version: "2011-06-15", RoleArn: ROLE_ARN, RoleSessionName: "gateway", WebIdentityToken: SECRET, ...params });

const assumeRoleParams = { Action: "AssumeRole", Version: "2011-06-15", RoleArn: ROLE_ARN, RoleSessionName: "gateway", ExternalId: "tenant-1" };
const assumeRole = (secret: string) =>
  sts(assumeRoleParams, (body) => sign("/sts", body, FORM, { accessKeyId: "AKIDFAKE", secret, service: "sts" }));

/** The text of the first `<name>` element in the XML. */
const element = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];

interface Credentials {
  accessKeyId: string;
  secret: string;
  sessionToken: string;
  expiration: string;
}

function credentialsOf(xml: string): Credentials {
  return {
    accessKeyId: element(xml, "AccessKeyId") as string,
    secret: element(xml, "SecretAccessKey") as string,
    sessionToken: element(xml, "SessionToken") as string,
    expiration: element(xml, "Expiration") as string,
  };
}

/** The status of the error and its code, checking the rest of STS's error shape. */
async function errorOf(res: Response): Promise<{ status: number; code: string | undefined }> {
  const xml = await res.text();
  expect(res.headers.get("content-type")).toBe("text/xml");
  expect(xml).toMatch(/^<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>\w+<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[\w-]+<\/RequestId><\/ErrorResponse>$/);
  return { status: res.status, code: element(xml, "Code") };
}

const converse = (credentials: Credentials, sessionToken = credentials.sessionToken) =>
  fetch(`${provider.url}${CONVERSE}`, {
    method: "POST",
    headers: sign(CONVERSE, hello, "application/json", { accessKeyId: credentials.accessKeyId, secret: credentials.secret, service: "bedrock", sessionToken }),
    body: hello,
  });

describe("aws sts", () => {
  it("trades a web identity token for temporary credentials in STS's XML, and counts them", async () => {
    const before = Date.now();
    const res = await webIdentity({ DurationSeconds: "900" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/xml");
    const xml = await res.text();
    expect(xml).toMatch(
      /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><AssumeRoleWithWebIdentityResult><Credentials>.*<\/Credentials><AssumedRoleUser>.*<\/AssumedRoleUser><\/AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>[\w-]+<\/RequestId><\/ResponseMetadata><\/AssumeRoleWithWebIdentityResponse>$/,
    );
    const credentials = credentialsOf(xml);
    expect(credentials).toMatchObject({ accessKeyId: "ASIAFAKE1", secret: SECRET, sessionToken: "fake-session-token-1" });
    expect(credentials.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // 900 s after the moment STS answered (between before and after), written to the second.
    const after = Date.now();
    const expires = Date.parse(credentials.expiration);
    expect(expires).toBeGreaterThan(before + 900_000 - 1000);
    expect(expires).toBeLessThanOrEqual(after + 900_000);
    expect(element(xml, "Arn")).toBe("arn:aws:sts::123456789012:assumed-role/gateway-bedrock/gateway");
    expect(element(xml, "AssumedRoleId")).toMatch(/^AROA[0-9A-F]{17}:gateway$/);
    expect(provider.credentialsIssued).toBe(1);
    expect(credentialsOf(await (await webIdentity()).text()).accessKeyId).toBe("ASIAFAKE2");
    expect(provider.credentialsIssued).toBe(2);
  });

  it("refuses a web identity token that is not the required one with InvalidIdentityToken", async () => {
    expect(await errorOf(await webIdentity({ WebIdentityToken: "someone-else" }))).toEqual({ status: 400, code: "InvalidIdentityToken" });
    expect(provider.credentialsIssued).toBe(0);
  });

  it("refuses missing parameters, a malformed role ARN, session name or duration, and unknown actions", async () => {
    expect(await errorOf(await webIdentity({ RoleArn: "" }))).toEqual({ status: 400, code: "MissingParameter" });
    expect(await errorOf(await webIdentity({ WebIdentityToken: "" }))).toEqual({ status: 400, code: "MissingParameter" });
    for (const params of [
      { RoleArn: "arn:aws:iam::1234:role/short-account" },
      { RoleArn: "arn:aws:iam::123456789012:user/not-a-role" },
      { RoleSessionName: "x" },
      { RoleSessionName: "has spaces" },
      { DurationSeconds: "60" },
    ]) {
      expect(await errorOf(await webIdentity(params)), JSON.stringify(params)).toEqual({ status: 400, code: "ValidationError" });
    }
    expect(await errorOf(await webIdentity({ Action: "GetCallerIdentity" }))).toEqual({ status: 400, code: "InvalidAction" });
    expect(await errorOf(await sts({ Version: "2011-06-15" }))).toEqual({ status: 400, code: "InvalidAction" });
    expect(provider.credentialsIssued).toBe(0);
  });

  it("takes AssumeRole signed for sts with the required secret, and refuses it unsigned or signed otherwise", async () => {
    const res = await assumeRole(SECRET);
    expect(res.status).toBe(200);
    const xml = await res.text();
    expect(xml).toMatch(/^<AssumeRoleResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><AssumeRoleResult><Credentials>/);
    expect(xml).toMatch(/<\/AssumeRoleResult><ResponseMetadata><RequestId>[\w-]+<\/RequestId><\/ResponseMetadata><\/AssumeRoleResponse>$/);
    expect(credentialsOf(xml)).toMatchObject({ accessKeyId: "ASIAFAKE1", secret: SECRET, sessionToken: "fake-session-token-1" });

    expect(await errorOf(await sts(assumeRoleParams))).toEqual({ status: 403, code: "MissingAuthenticationToken" });
    expect(await errorOf(await assumeRole("not-the-secret"))).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    const forBedrock = await sts(assumeRoleParams, (body) => sign("/sts", body, FORM, { accessKeyId: "AKIDFAKE", secret: SECRET, service: "bedrock" }));
    expect(await errorOf(forBedrock)).toEqual({ status: 403, code: "SignatureDoesNotMatch" });
    expect(provider.credentialsIssued).toBe(1);
  });

  it("is left out of injected failures", async () => {
    provider.behavior.failNext = 1;
    expect((await webIdentity()).status).toBe(200);
    expect(provider.behavior.failNext).toBe(1);
  });
});

describe("bedrock with temporary credentials from sts", () => {
  it("takes a converse call signed with them and their session token", async () => {
    const credentials = credentialsOf(await (await webIdentity()).text());
    const res = await converse(credentials);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ output: { message: { content: [{ text: "Echo: hello" }] } } });
  });

  it("refuses a session token it did not issue, and one that has expired", async () => {
    const credentials = credentialsOf(await (await webIdentity()).text());
    const unknown = await converse(credentials, "fake-session-token-99");
    expect(unknown.status).toBe(403);
    expect(unknown.headers.get("x-amzn-errortype")).toMatch(/^UnrecognizedClientException:/);
    expect(await unknown.json()).toEqual({ message: "The security token included in the request is invalid." });

    provider.behavior.assumedRoleSeconds = 0;
    const expired = credentialsOf(await (await webIdentity()).text());
    const res = await converse(expired);
    expect(res.status).toBe(403);
    expect(res.headers.get("x-amzn-errortype")).toMatch(/^ExpiredTokenException:/);
    expect(await res.json()).toEqual({ message: "The security token included in the request is expired" });
  });
});
