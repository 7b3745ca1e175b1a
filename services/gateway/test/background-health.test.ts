import { eventually } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { MODES, startFakeBehindGateway, type FakeBehindGateway } from "./support/modes.js";

// general_settings.background_health_checks: the router probes every
// deployment at start and every health_check_interval seconds, and GET
// /health answers the latest round instead of calling each deployment again.

interface Health {
  healthy_endpoints: { model_id: string }[];
  unhealthy_endpoints: { model_id: string; error: string }[];
  healthy_count: number;
  unhealthy_count: number;
}

const config = (intervalSeconds: number) => (fakeUrl: string) =>
  writeConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: ${fakeUrl}/v1, api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: alive-1 }
  - model_name: dead-model
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:9/v1", api_key: os.environ/FAKE_PROVIDER_KEY }
    model_info: { id: dead-1 }
general_settings:
  master_key: ${MASTER_KEY}
  background_health_checks: true
  health_check_interval: ${intervalSeconds}
`);

describe("background health checks", () => {
  let hourly: FakeBehindGateway;
  let often: FakeBehindGateway;

  beforeAll(async () => {
    [hourly, often] = await Promise.all([startFakeBehindGateway(MODES[2]!, config(3600)), startFakeBehindGateway(MODES[2]!, config(0.2))]);
  });
  afterAll(async () => {
    await Promise.all([hourly?.close(), often?.close()]);
  });

  it("probes at start, and /health answers that round without calling the deployments again", async () => {
    await eventually("the round at start", async () => (hourly.provider.requests.length > 0 ? true : undefined));
    const probes = hourly.provider.requests.length;
    for (let i = 0; i < 3; i++) {
      const { status, json } = await admin<Health>(hourly.gateway.baseUrl, "GET", "/health");
      expect(status).toBe(200);
      expect(json.healthy_endpoints.map((e) => e.model_id)).toEqual(["alive-1"]);
      expect(json.unhealthy_endpoints.map((e) => e.model_id)).toEqual(["dead-1"]);
      expect(json.unhealthy_endpoints[0]!.error).toMatch(/unreachable/);
    }
    expect((await admin<Health>(hourly.gateway.baseUrl, "GET", "/health?model=dead-model")).json).toMatchObject({ healthy_count: 0, unhealthy_count: 1 });
    expect(hourly.provider.requests.length).toBe(probes);
  });

  it("probes again every health_check_interval", async () => {
    await eventually("three rounds", async () => (often.provider.requests.length >= 3 ? true : undefined));
  });
});
