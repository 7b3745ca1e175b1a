import { generateKeyPairSync } from "node:crypto";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessToken } from "../src/providers/google/access-tokens.js";
import type { GoogleCredentials } from "../src/providers/google/credentials.js";
import { ProviderError } from "../src/providers/provider.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

describe("Google access tokens", () => {
  let provider: FakeProvider;
  // Each test its own credentials, so each starts without a token in hand.
  let serial = 0;
  const serviceAccount = (): GoogleCredentials => ({
    type: "service_account",
    clientEmail: `gateway-${(serial += 1)}@p.iam.gserviceaccount.com`,
    privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    privateKeyId: "kid",
    tokenUri: `${provider.url}/token`,
    projectId: "p",
  });

  beforeAll(async () => {
    provider = await startFakeProvider({ behavior: { serviceAccountPublicKey: publicKey.export({ type: "spki", format: "pem" }).toString() } });
  });
  afterAll(() => provider.close());

  it("are fetched once for many requests at the same time, and then given without waiting", async () => {
    const credentials = serviceAccount();
    const before = provider.tokensIssued;
    const tokens = await Promise.all(Array.from({ length: 20 }, () => accessToken(credentials)));
    expect(new Set(tokens).size).toBe(1);
    expect(provider.tokensIssued - before).toBe(1);
    // In hand now: a string, not a promise.
    expect(accessToken(credentials)).toBe(tokens[0]);
    // Equal credentials read again (a config reload) share the token.
    expect(accessToken({ ...credentials })).toBe(tokens[0]);
  });

  it("are renewed in the background shortly before they expire, and not used at all just before", async () => {
    const credentials = serviceAccount();
    // Four minutes: inside the renewal window, still usable.
    provider.behavior.accessTokenLifetimeSeconds = 240;
    const first = await accessToken(credentials);
    const before = provider.tokensIssued;
    expect(accessToken(credentials)).toBe(first);
    await expect.poll(() => provider.tokensIssued).toBe(before + 1);
    const renewed = accessToken(credentials);
    expect(renewed).not.toBe(first);
    expect(typeof renewed).toBe("string");

    // Ten seconds: too close to its end to send, so the next request waits for a new one.
    provider.behavior.accessTokenLifetimeSeconds = 10;
    const shortLived = serviceAccount();
    const short = await accessToken(shortLived);
    const next = accessToken(shortLived);
    expect(next).toBeInstanceOf(Promise);
    expect(await next).not.toBe(short);
    delete provider.behavior.accessTokenLifetimeSeconds;
  });

  it("fail with a 401 naming Google's reason when the credentials are refused, and try again on the next request", async () => {
    const user: GoogleCredentials = { type: "authorized_user", clientId: "c", clientSecret: "s3cret", refreshToken: "wrong", tokenUri: `${provider.url}/token`, projectId: undefined };
    provider.behavior.requireApiKey = "right";
    const before = provider.tokensIssued;
    const err = await Promise.resolve(accessToken(user)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ status: 401, type: "authentication_error" });
    expect((err as Error).message).toContain("refused the credentials");
    expect((err as Error).message).not.toContain("s3cret");
    const again = await Promise.resolve(accessToken({ ...user, refreshToken: "right" }));
    expect(again).toMatch(/^ya29\./);
    expect(provider.tokensIssued).toBe(before + 1);
    delete provider.behavior.requireApiKey;
  });

  it("come from the metadata server for the workload's own service account, kept as the others are", async () => {
    const credentials: GoogleCredentials = { type: "metadata_server", host: new URL(provider.url).host, projectId: undefined };
    const before = provider.tokensIssued;
    const [first, second] = await Promise.all([accessToken(credentials), accessToken(credentials)]);
    expect(first).toMatch(/^ya29\./);
    expect(second).toBe(first);
    expect(accessToken(credentials)).toBe(first);
    expect(provider.tokensIssued - before).toBe(1);
    expect(provider.requests.at(-1)).toMatchObject({ method: "GET", path: "/computeMetadata/v1/instance/service-accounts/default/token", headers: { "metadata-flavor": "Google" } });
  });

  it("fail with a 503 when the token endpoint cannot be reached", async () => {
    const credentials = { ...serviceAccount(), tokenUri: "http://127.0.0.1:9/token" };
    await expect(Promise.resolve(accessToken(credentials))).rejects.toMatchObject({ status: 503, type: "api_connection_error" });
  });
});
