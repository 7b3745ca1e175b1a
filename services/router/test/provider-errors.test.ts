import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson } from "../src/providers/http.js";
import { ProviderError } from "../src/providers/provider.js";

// What a provider says back about the key it was sent reaches the client (as
// the error's message, code and param): none of the key may be in it.

const KEYS = ["sk-proj-abcdefghijklmnop0123456789", "gsk_groqsecret1234567890XYZ", "xai-grokSecret0987654321abc"];

let server: Server;
let base: string;

beforeAll(async () => {
  // Answers 401 the way OpenAI does, the key masked (or, /full, as it came).
  server = createServer((req, res) => {
    if (req.url === "/headers") {
      // A provider (or a proxy before it) that quotes the request's headers back.
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: `bad request; headers: ${JSON.stringify(req.headers)}`, type: "invalid_request_error", code: String(req.headers["x-gateway-auth"]), param: null } }));
      return;
    }
    const key = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    const shown = req.url === "/full" ? key : `${key.slice(0, 6)}${"*".repeat(20)}${key.slice(-4)}`;
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${shown}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: "invalid_request_error", code: "invalid_api_key", param: shown } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

async function failure(path: string, key: string, extraHeaders?: Record<string, string>): Promise<ProviderError> {
  const call = postJson("openai", { url: `${base}${path}`, headers: { authorization: `Bearer ${key}` }, body: {}, call: { signal: AbortSignal.timeout(5_000), deployment: { extraHeaders, extraBody: undefined } }, secret: key });
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe("provider errors about the key", () => {
  it.each(KEYS)("show no part of the key %s, echoed whole or masked", async (key) => {
    for (const path of ["/full", "/masked"]) {
      const err = await failure(path, key);
      expect(err.status).toBe(401);
      expect(err.message).toContain("Incorrect API key provided: [redacted]. You can find your API key");
      const shown = JSON.stringify([err.message, err.detail]);
      expect(shown).not.toContain(key.slice(0, 6));
      expect(shown).not.toContain(key.slice(-4));
    }
  });
});

describe("provider errors that quote the request's headers", () => {
  it("show none of the deployment's extra_headers values (its secrets as much as its key is), short ones aside", async () => {
    const err = await failure("/headers", KEYS[0]!, { "x-gateway-auth": "extra-header-secret-0123", "anthropic-version": "v1" });
    expect(err.status).toBe(400);
    const shown = JSON.stringify([err.message, err.detail]);
    expect(shown).not.toContain("extra-header-secret-0123");
    expect(shown).not.toContain(KEYS[0]!);
    expect(err.detail?.code).toBe("[redacted]");
    expect(err.message).toContain('"x-gateway-auth":"[redacted]"');
    // A value too short to be a secret (a version) is left as it is, so the message still reads.
    expect(err.message).toContain('"anthropic-version":"v1"');
  });
});
