import { startFakeProvider, type FakeProvider } from "@gateway/fake-provider";
import { eventually } from "@gateway/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fakeOpenAIConfig, MASTER_KEY, PROVIDER_KEY } from "./support/config.js";
import { ProcessGroup, type GatewayProcess } from "./support/processes.js";

const WRONG_KEY = "sk-wrong-but-secret-5c1d9e";

let provider: FakeProvider;
let gateway: GatewayProcess;
const processes = new ProcessGroup();

beforeAll(async () => {
  provider = await startFakeProvider({ behavior: { requireApiKey: PROVIDER_KEY } });
  // The whole gateway as `npm start` runs it, logging everything it can.
  gateway = await processes.start("all", { configPath: fakeOpenAIConfig(provider.url), env: { FAKE_PROVIDER_KEY: PROVIDER_KEY, LOG_LEVEL: "trace" } });
});
afterAll(async () => {
  await processes.close();
  await provider?.close();
});

it("logs JSON lines with the request id, and never a key", async () => {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: MASTER_KEY, maxRetries: 0 });
  await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "hello" }] });
  const stream = await client.chat.completions.create({ model: "fast-model", stream: true, messages: [{ role: "user", content: "hello again" }] });
  for await (const _ of stream);
  const failures: string[] = [];
  for (const attempt of [
    () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: WRONG_KEY, maxRetries: 0 }).chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "x" }] }).withResponse(),
    () => client.chat.completions.create({ model: "not-configured", messages: [{ role: "user", content: "x" }] }).withResponse(),
  ]) {
    const err = (await attempt().catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    failures.push(err.headers?.get("x-litellm-call-id") ?? "");
  }
  // Provider failures carry the upstream's words, which must not carry the provider key either.
  provider.behavior.failNext = 1;
  await client.chat.completions.create({ model: "fast-model", messages: [{ role: "user", content: "x" }] }).catch(() => {});

  // stdout and stderr together; Node's own warnings on stderr are not JSON.
  const parsed = () =>
    gateway
      .output()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  // The process writes its lines a moment after it answers.
  const entries = await eventually("the failures' log lines", async () => {
    const now = parsed();
    return failures.every((id) => now.some((entry) => entry["requestId"] === id)) ? now : undefined;
  });
  expect(entries.some((entry) => entry["msg"] === "gateway listening")).toBe(true);
  expect(entries.every((entry) => typeof entry["level"] === "number" && typeof entry["msg"] === "string")).toBe(true);
  for (const secret of [MASTER_KEY, PROVIDER_KEY, WRONG_KEY]) expect(gateway.output()).not.toContain(secret);
  // Each failure's log line carries the id the client was given.
  const failed = entries.filter((entry) => entry["msg"] === "request failed").map((entry) => entry["requestId"]);
  expect(failures.every((id) => id !== "" && failed.includes(id))).toBe(true);
});
