import { ConnectError, Code } from "@connectrpc/connect";
import { createLogger, parseConfig, type SharedStore } from "@gateway/common";
import { describe, expect, it } from "vitest";
import { ModelGroups } from "../src/config/model-groups.js";
import { response } from "../src/outcome.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import type { CachedAnswer } from "../src/response-cache.js";
import { SharedAnswers } from "../src/shared-answers.js";

// What a router replica shares of its cached answers and takes from the
// others': the answer as it was kept, only while fresh and from a deployment
// this replica has; a store it cannot reach is a miss, logged once.

const groupsOf = (id: string) =>
  ModelGroups.fromConfig(parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://x/v1" }, model_info: { id: ${id} } }`), SUPPORTED_PROVIDERS);
const groups = groupsOf("d-1");
const deployment = groups.resolve("m")!.deployments[0]!;

/** A store in this process's memory, standing in for the bus's; `down` makes every call fail. */
function memoryStore(): SharedStore & { values: Map<string, Uint8Array>; down: boolean } {
  const failing = () => (store.down ? Promise.reject(new Error("no responders")) : Promise.resolve());
  const store = {
    values: new Map<string, Uint8Array>(),
    down: false,
    get: (key: string) => failing().then(() => store.values.get(key)),
    put: (key: string, value: Uint8Array) => failing().then(() => void store.values.set(key, value)),
    delete: (keys: readonly string[]) => failing().then(() => keys.forEach((key) => store.values.delete(key))),
    clear: () => failing().then(() => store.values.clear()),
  };
  return store;
}

function logged(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger("test", "info", { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) };
}

const answer = (storedAt: number, ttlMs = 60_000): CachedAnswer => ({
  events: [response({ text: "kept" })],
  deployment,
  usage: { promptTokens: 12, completionTokens: 7, cachedTokens: 3, cacheWriteTokens: 2, cacheWrite1hTokens: 1, webSearches: 1, unitCost: 0.5 },
  usageEstimated: true,
  storedAt,
  expiresAt: storedAt + ttlMs,
});

/** Waits for a put the caller did not wait for. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("shared answers", () => {
  it("give back what was shared, events and usage as kept, with this replica's deployment", async () => {
    const store = memoryStore();
    let now = 1000;
    const shared = new SharedAnswers(async () => store, logged().logger, () => now);
    const kept = answer(1000);
    shared.put("k", kept);
    await settled();
    expect(store.values.has("k")).toBe(true);
    const hit = await shared.get("k", undefined, groups);
    const { events, ...rest } = hit!;
    expect(rest).toEqual({ ...kept, events: undefined });
    expect(events.map((e) => [e.event.case, Buffer.from(e.event.value as Uint8Array).toString()])).toEqual([["response", Buffer.from(kept.events[0]!.event.value as Uint8Array).toString()]]);
    expect(hit!.deployment).toBe(deployment);
    // s-maxage, the answer's own ttl, and a replica without that deployment.
    now = 31_000;
    expect(await shared.get("k", 10_000, groups)).toBeUndefined();
    expect(await shared.get("k", 30_000, groups)).toBeDefined();
    expect(await shared.get("k", undefined, groupsOf("d-2"))).toBeUndefined();
    now = 61_000;
    expect(await shared.get("k", undefined, groups)).toBeUndefined();
    expect(await shared.get("never shared", undefined, groups)).toBeUndefined();
    store.values.set("garbage", new Uint8Array([0xff, 0xff, 0xff]));
    expect(await shared.get("garbage", undefined, groups)).toBeUndefined();
  });

  it("drop answers by key or all of them", async () => {
    const store = memoryStore();
    const shared = new SharedAnswers(async () => store, logged().logger);
    for (const key of ["a", "b", "c"]) shared.put(key, answer(Date.now()));
    await settled();
    await shared.forget({ keys: ["a"], all: false });
    expect([...store.values.keys()]).toEqual(["b", "c"]);
    await shared.forget({ keys: [], all: true });
    expect(store.values.size).toBe(0);
  });

  it("miss while the store cannot be reached, say so once and again when it works, and answer a ping or a delete with 503", async () => {
    const store = memoryStore();
    const { lines, logger } = logged();
    const shared = new SharedAnswers(async () => store, logger);
    store.down = true;
    expect(await shared.get("k", undefined, groups)).toBeUndefined();
    shared.put("k", answer(Date.now()));
    await settled();
    expect(lines.filter((l) => l["level"] === 40)).toHaveLength(1);
    for (const call of [shared.ping(), shared.forget({ keys: ["k"], all: false })]) {
      const err = await call.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).message).toMatch(/shared response cache cannot be reached: no responders/);
    }
    store.down = false;
    expect(await shared.get("k", undefined, groups)).toBeUndefined();
    expect(lines.map((l) => l["msg"])).toContain("the shared response cache is reachable again");
  });

  it("open the store when first used, and again after it failed to open", async () => {
    let opens = 0;
    const store = memoryStore();
    const shared = new SharedAnswers(async () => {
      if (++opens === 1) throw new Error("stream not ready");
      return store;
    }, logged().logger);
    expect(shared.opened).toBe(false);
    expect(await shared.get("k", undefined, groups)).toBeUndefined();
    await settled();
    expect(shared.opened).toBe(false);
    shared.put("k", answer(Date.now()));
    await settled();
    expect(opens).toBe(2);
    expect(shared.opened).toBe(true);
    expect(await shared.get("k", undefined, groups)).toBeDefined();
  });
});
