import { Writable } from "node:stream";
import { expect, test } from "vitest";
import { createLogger, parseConfig } from "../src/index.js";

/** A logger writing into an array of parsed lines. */
function capture(name: string) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split("\n").filter((line) => line !== ""));
      done();
    },
  });
  return { logger: createLogger(name, "debug", destination), lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

test("never writes a secret: key fields, authorization headers, configured secrets, key-shaped strings", () => {
  const config = parseConfig(
    `
model_list:
  - model_name: m
    litellm_params: { model: openai/gpt-4o-mini, api_key: os.environ/LOGGER_TEST_PROVIDER_KEY }
general_settings: { master_key: "master-9f8e7d6c5b4a" }
`,
    { LOGGER_TEST_PROVIDER_KEY: "prov-0123456789abcdef" },
  );
  const { logger, lines } = capture("secrets");
  logger.info({ headers: { authorization: "Bearer sk-client-abcdefgh1234", "x-api-key": "raw-anthropic-style-key" } }, "incoming");
  logger.info({ config }, "loaded config");
  logger.info({ request: { apiKey: "sk-virtual-key-0000000000" } }, "authorize");
  logger.error({ err: "upstream said: invalid key prov-0123456789abcdef" }, "provider failed");
  logger.warn("the master key master-9f8e7d6c5b4a was used, and a bearer Bearer some.jwt.token");
  logger.warn("a client sent sk-live-0123456789ABCDEFxyz");
  const text = lines.join("\n");
  for (const secret of ["sk-client-abcdefgh1234", "raw-anthropic-style-key", "prov-0123456789abcdef", "master-9f8e7d6c5b4a", "sk-virtual-key-0000000000", "some.jwt.token", "sk-live-0123456789ABCDEFxyz"]) {
    expect(text).not.toContain(secret);
  }
  expect(lines).toHaveLength(6);
  expect(text).toContain("[redacted]");
});
