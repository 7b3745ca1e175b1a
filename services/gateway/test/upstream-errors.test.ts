import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { MODES, startInMode, type ModeGateway } from "./support/modes.js";

// How a provider's failures reach the client: its 4xx as they are, a
// timeout as 504, an unavailable provider as 503, other failures as 502.
const mode = MODES[2]!;

describe("upstream failures", () => {
  let provider: FakeProvider;
  let gateway: ModeGateway;
  let client: OpenAI;

  beforeAll(async () => {
    process.env["FAKE_PROVIDER_KEY"] = PROVIDER_KEY;
    provider = await startFakeProvider();
    const config = writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "${provider.url}/v1", api_key: os.environ/FAKE_PROVIDER_KEY, timeout: 0.3 }
general_settings:
  master_key: ${MASTER_KEY}
`);
    gateway = await startInMode(mode, config);
    client = new OpenAI({ baseURL: `${gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await gateway?.close();
    await provider?.close();
  });
  beforeEach(() => {
    Object.assign(provider.behavior, { latencyMs: 0, failNext: 0, retryAfterSeconds: undefined });
  });

  const ask = () => client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hi" }] });

  it.each([
    [500, 502],
    [502, 502],
    [503, 503],
    [400, 400],
  ])("a provider's %i reaches the client as %i, with the provider's message", async (upstream, expected) => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: upstream });
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(expected);
    expect(err.message).toContain("Injected failure");
  });

  it("keeps a 429 a 429, with its retry-after", async () => {
    Object.assign(provider.behavior, { failNext: 1, failStatus: 429, retryAfterSeconds: 7 });
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(429);
    expect(err.headers?.get("retry-after")).toBe("7");
  });

  it("answers 504 when the provider does not answer within the deployment's timeout", async () => {
    provider.behavior.latencyMs = 2000;
    const err = (await ask().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err.status).toBe(504);
    expect(err.type).toBe("timeout");
  });
});
