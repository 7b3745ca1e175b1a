import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MASTER_KEY, PROVIDER_KEY, writeConfig } from "./support/config.js";
import { ProcessGroup } from "./support/processes.js";
import { ask, deployment, routingYaml, startRoutingGateway, type RoutingGateway } from "./support/routing.js";
import { openChatStream, streamedContent } from "./support/sse.js";

// config.yaml changed under running routers: by the file watch, by SIGHUP,
// and broken.

let before: FakeProvider;
let after: FakeProvider;

beforeAll(async () => {
  [before, after] = [await startFakeProvider(), await startFakeProvider()];
});

afterAll(async () => {
  await before?.close();
  await after?.close();
});

describe.each(["one process", "split"] as const)("config reload, %s", (mode) => {
  let gw: RoutingGateway;
  const config = (p: FakeProvider, id: string, settings = "") => routingYaml(deployment("fast-model", id, p), settings);

  beforeAll(async () => {
    gw = await startRoutingGateway(config(before, "before-1"), mode);
  });
  afterAll(() => gw?.close());
  afterEach(() => {
    before.behavior.chunkDelayMs = 0;
  });

  it("replaces the model list within 2 s of a change, while a stream in flight finishes on the old one", async () => {
    before.behavior.chunkDelayMs = 100;
    const text = "one two three four five six seven eight nine ten eleven twelve";
    const stream = await openChatStream(gw.baseUrl, text);
    await stream.firstEvent;
    const changedAt = Date.now();
    gw.rewrite(config(after, "after-1", "router_settings:\n  num_retries: 1\n"));
    await eventually("requests to reach the new deployment", async () =>
      (await ask(gw.client, "fast-model")).headers.get("x-litellm-model-id") === "after-1" ? true : undefined,
    );
    expect(Date.now() - changedAt).toBeLessThan(2000);
    const { text: body, broken } = await stream.finished;
    expect(broken).toBe(false);
    expect(body).toContain("[DONE]");
    expect(streamedContent(body)).toBe(`Echo: ${text}`);
    expect((await gw.spendLog(stream.requestId))["status"]).toBe("success");
  });

  it("rejects a broken config and keeps serving the running one", async () => {
    gw.rewrite("model_list: [ { model_name: broken");
    // A forced reload (what SIGHUP does) settles once the broken file has been read and refused.
    await gw.gateway.reload();
    gw.rewrite(routingYaml(deployment("fast-model", "bad", before), "router_settings:\n  routing_strategy: fastest-please\n"));
    await gw.gateway.reload();
    for (let i = 0; i < 5; i++) expect((await ask(gw.client, "fast-model")).headers.get("x-litellm-model-id")).toBe("after-1");
    expect((await fetch(`${gw.baseUrl}/health/readiness`)).status).toBe(200);
    // A good file after broken ones is taken again.
    gw.rewrite(config(before, "before-2"));
    await eventually("the fixed config to apply", async () =>
      (await ask(gw.client, "fast-model")).headers.get("x-litellm-model-id") === "before-2" ? true : undefined,
    );
  });
});

describe("config reload in a gateway process", () => {
  const processes = new ProcessGroup();
  afterAll(() => processes.close());

  it("reloads on SIGHUP and keeps running, and logs a broken config as rejected while serving the old one", async () => {
    const configPath = writeConfig(routingYaml(deployment("fast-model", "proc-1", after)));
    const gateway = await processes.start("all", { configPath, env: { FAKE_PROVIDER_KEY: PROVIDER_KEY } });
    const askIt = async () => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${MASTER_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "fast-model", messages: [{ role: "user", content: "hi" }] }),
      });
      return { status: res.status, id: res.headers.get("x-litellm-model-id") };
    };
    // Once it answers, its signal handlers are in place (before, SIGHUP's default would end it).
    expect(await askIt()).toEqual({ status: 200, id: "proc-1" });
    gateway.signal("SIGHUP");
    await eventually("the SIGHUP reload", async () => (gateway.output().includes('"msg":"config reloaded"') ? true : undefined));
    expect(await askIt()).toEqual({ status: 200, id: "proc-1" });
    writeFileSync(configPath, routingYaml(deployment("fast-model", "proc-2", after), "router_settings:\n  num_retries: many\n"));
    await eventually("the rejection to be logged", async () => (gateway.output().includes("config reload rejected") ? true : undefined));
    expect(gateway.output()).toMatch(/config reload rejected.*router_settings\.num_retries|router_settings\.num_retries.*config reload rejected/);
    expect(await askIt()).toEqual({ status: 200, id: "proc-1" });
  });

  it("reads the files config.yaml includes, as LiteLLM does, and reloads when one of them changes", async () => {
    // The master key and settings in config.yaml, the models beside it (LiteLLM's include: lists extend, the rest replaces).
    const configPath = writeConfig(`include: [models.yaml]\n${routingYaml(deployment("fast-model", "main-1", after))}`);
    const models = join(dirname(configPath), "models.yaml");
    writeFileSync(models, `model_list:\n${deployment("included-model", "included-1", after)}`);
    const gateway = await processes.start("all", { configPath, env: { FAKE_PROVIDER_KEY: PROVIDER_KEY } });
    const modelIds = async () => {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${MASTER_KEY}` } });
      return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
    };
    expect(await modelIds()).toEqual(["fast-model", "included-model"]);
    expect(gateway.output()).not.toContain('"ignored"');
    writeFileSync(models, `model_list:\n${deployment("renamed-model", "included-2", after)}`);
    await eventually("the included file's change to apply", async () => ((await modelIds()).includes("renamed-model") ? true : undefined));
    expect(await modelIds()).toEqual(["fast-model", "renamed-model"]);
  });
});
