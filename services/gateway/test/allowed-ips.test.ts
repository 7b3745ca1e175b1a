import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeOpenAIConfig, MASTER_KEY } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// general_settings.allowed_ips: the edge serves only these clients (the
// health probes aside); with use_x_forwarded_for, the client is the last
// X-Forwarded-For address, the one the proxy in front wrote.

const config = (allowed: string[], forwardedFor: boolean) => (fakeUrl: string) =>
  fakeOpenAIConfig(fakeUrl, `  allowed_ips: ${JSON.stringify(allowed)}\n  use_x_forwarded_for: ${forwardedFor}\n`);

describe("general_settings.allowed_ips", () => {
  let behindProxy: FakeBehindGateway;
  let direct: FakeBehindGateway;

  beforeAll(async () => {
    [behindProxy, direct] = await Promise.all([
      startFakeBehindGateway(MODES[2]!, config(["10.0.0.0/8", "fd7a:115c:a1e0::/48"], true)),
      startFakeBehindGateway(MODES[2]!, config(["127.0.0.1", "::1"], false)),
    ]);
  });
  afterAll(async () => {
    await Promise.all([behindProxy?.close(), direct?.close()]);
  });

  const ask = (setup: FakeBehindGateway, forwardedFor?: string) =>
    new OpenAI({ baseURL: `${setup.gateway.baseUrl}/v1`, apiKey: MASTER_KEY, maxRetries: 0, defaultHeaders: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} }).chat.completions.create({
      model: "fast-model",
      messages: [{ role: "user", content: "from where" }],
    });

  it("behind a proxy, serves the clients X-Forwarded-For names last if the list has them, and refuses the rest with a 403", async () => {
    // What the client claimed, then what a proxy that appends (nginx, a load balancer) saw.
    expect((await ask(behindProxy, "192.168.1.9, 10.1.2.3")).choices).toHaveLength(1);
    await expect(ask(behindProxy, "10.1.2.3, 192.168.1.9")).rejects.toMatchObject({ status: 403, error: { message: "Access forbidden: IP address 192.168.1.9 not allowed." } });
    expect((await ask(behindProxy, "fd7a:115c:a1e0::5")).choices).toHaveLength(1);
    await expect(ask(behindProxy, "192.168.1.9")).rejects.toMatchObject({ status: 403, error: { message: "Access forbidden: IP address 192.168.1.9 not allowed.", type: "permission_error" } });
    // The proxy's own address (this test's) is not on the list.
    await expect(ask(behindProxy)).rejects.toMatchObject({ status: 403 });
    const models = await fetch(`${behindProxy.gateway.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
    expect(models.status).toBe(403);
    // The probes answer whoever asks.
    expect((await fetch(`${behindProxy.gateway.baseUrl}/health/liveliness`)).status).toBe(200);
    expect((await fetch(`${behindProxy.gateway.baseUrl}/health/readiness`)).status).toBe(200);
  });

  it("without use_x_forwarded_for, goes by the connection and ignores the header", async () => {
    expect((await ask(direct)).choices).toHaveLength(1);
    expect((await ask(direct, "203.0.113.7")).choices).toHaveLength(1);
  });
});
