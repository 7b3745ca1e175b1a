import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signedHeaders, type SigningRequest } from "../src/providers/aws/sigv4.js";

const EXAMPLE_CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const EXAMPLE_DATE = new Date("2015-08-30T12:36:00Z");
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const hmac = (key: string | Buffer, text: string): Buffer => createHmac("sha256", key).update(text).digest();

/** The Authorization header for a canonical request written out by hand, signed step by step as AWS's docs describe. */
function handSigned(canonical: string, amzDate: string, region: string, service: string): string {
  const lines = canonical.split("\n");
  const signedNames = lines[lines.length - 2];
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  const key = hmac(hmac(hmac(hmac(`AWS4${EXAMPLE_CREDENTIALS.secretAccessKey}`, amzDate.slice(0, 8)), region), service), "aws4_request");
  const signature = createHmac("sha256", key).update(stringToSign).digest("hex");
  return `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=${signedNames}, Signature=${signature}`;
}

/** A Bedrock call as the router makes it, signed at the example's time with the example's key. */
function bedrockRequest(overrides: Partial<SigningRequest> = {}): SigningRequest {
  return {
    method: "POST",
    url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: '{"messages":[]}',
    region: "us-east-1",
    service: "bedrock",
    credentials: EXAMPLE_CREDENTIALS,
    date: EXAMPLE_DATE,
    ...overrides,
  };
}

describe("AWS Signature Version 4", () => {
  it("reproduces AWS's published example (IAM ListUsers)", () => {
    const published =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, " +
      "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    const headers = signedHeaders({
      method: "GET",
      url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: "",
      region: "us-east-1",
      service: "iam",
      credentials: EXAMPLE_CREDENTIALS,
      date: EXAMPLE_DATE,
      contentSha256Header: false,
    });
    expect(headers).toEqual({ authorization: published, "x-amz-date": "20150830T123600Z" });

    // The published canonical request, through the test's own signer: the same signature, so that signer can check the cases below.
    const canonical = [
      "GET",
      "/",
      "Action=ListUsers&Version=2010-05-08",
      "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n",
      "content-type;host;x-amz-date",
      EMPTY_SHA256,
    ].join("\n");
    expect(sha256(canonical)).toBe("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    expect(handSigned(canonical, "20150830T123600Z", "us-east-1", "iam")).toBe(published);
  });

  it("encodes a Bedrock model id's path again (%3A signs as %253A) and normalizes header names and values", () => {
    const body = '{"messages":[]}';
    const headers = signedHeaders(bedrockRequest({ headers: { "Content-Type": "application/json", "X-Trace": "  a   b  " }, body }));
    const canonical = [
      "POST",
      "/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse",
      "",
      "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n" +
        `x-amz-content-sha256:${sha256(body)}\nx-amz-date:20150830T123600Z\nx-trace:a b\n`,
      "content-type;host;x-amz-content-sha256;x-amz-date;x-trace",
      sha256(body),
    ].join("\n");
    expect(headers).toEqual({
      authorization: handSigned(canonical, "20150830T123600Z", "us-east-1", "bedrock"),
      "x-amz-date": "20150830T123600Z",
      "x-amz-content-sha256": sha256(body),
    });
  });

  it("sorts and encodes the query's parameters by name, then value", () => {
    const headers = signedHeaders(bedrockRequest({ url: "https://h.example/p?b=2&a=x%20y&a=1&c=it's", headers: {}, body: "" }));
    const canonical = [
      "POST",
      "/p",
      "a=1&a=x%20y&b=2&c=it%27s",
      `host:h.example\nx-amz-content-sha256:${EMPTY_SHA256}\nx-amz-date:20150830T123600Z\n`,
      "host;x-amz-content-sha256;x-amz-date",
      EMPTY_SHA256,
    ].join("\n");
    expect(headers.authorization).toBe(handSigned(canonical, "20150830T123600Z", "us-east-1", "bedrock"));
  });

  it("sends and signs the session token when there is one", () => {
    const credentials = { ...EXAMPLE_CREDENTIALS, sessionToken: "token/with+chars=" };
    const headers = signedHeaders(bedrockRequest({ url: "https://h.example/", headers: {}, body: "", credentials }));
    expect(headers["x-amz-security-token"]).toBe("token/with+chars=");
    expect(headers.authorization).toContain("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,");
    const canonical = [
      "POST",
      "/",
      "",
      `host:h.example\nx-amz-content-sha256:${EMPTY_SHA256}\nx-amz-date:20150830T123600Z\nx-amz-security-token:token/with+chars=\n`,
      "host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
      EMPTY_SHA256,
    ].join("\n");
    expect(headers.authorization).toBe(handSigned(canonical, "20150830T123600Z", "us-east-1", "bedrock"));
  });

  it("gives the same signature again from its cached signing key, and another for another day or secret", () => {
    const first = signedHeaders(bedrockRequest());
    expect(signedHeaders(bedrockRequest())).toEqual(first);
    const nextDay = signedHeaders(bedrockRequest({ date: new Date("2015-08-31T12:36:00Z") }));
    expect(nextDay.authorization).toContain("/20150831/us-east-1/bedrock/aws4_request");
    const signature = (headers: Record<string, string>): string | undefined => headers.authorization?.split("Signature=")[1];
    expect(signature(nextDay)).toMatch(/^[0-9a-f]{64}$/);
    expect(signature(nextDay)).not.toBe(signature(first));
    const otherSecret = signedHeaders(bedrockRequest({ credentials: { ...EXAMPLE_CREDENTIALS, secretAccessKey: "another" } }));
    expect(otherSecret.authorization).not.toBe(first.authorization);
    // Many keys at once push the cache past its bound; signing still comes out right.
    for (let i = 0; i < 100; i++) signedHeaders(bedrockRequest({ credentials: { ...EXAMPLE_CREDENTIALS, secretAccessKey: `secret-${i}` } }));
    expect(signedHeaders(bedrockRequest())).toEqual(first);
  });

  it("signs the Host header undici sends: an explicit port kept, the scheme's default port dropped", () => {
    const cases = [
      { url: "http://127.0.0.1:4010/model/m/converse", host: "127.0.0.1:4010", path: "/model/m/converse" },
      { url: "https://x:443/model/m/converse", host: "x", path: "/model/m/converse" },
      { url: "http://x:80", host: "x", path: "/" },
    ];
    for (const { url, host, path } of cases) {
      const canonical = [
        "POST",
        path,
        "",
        `host:${host}\nx-amz-content-sha256:${EMPTY_SHA256}\nx-amz-date:20150830T123600Z\n`,
        "host;x-amz-content-sha256;x-amz-date",
        EMPTY_SHA256,
      ].join("\n");
      expect(signedHeaders(bedrockRequest({ url, headers: {}, body: "" })).authorization).toBe(handSigned(canonical, "20150830T123600Z", "us-east-1", "bedrock"));
    }
  });
});
