import { parseConfig } from "@gateway/common";
import { CallType } from "@gateway/proto/router/v1/router_pb.js";
import { describe, expect, it } from "vitest";
import { cacheUse, keptAnswer, replay } from "../src/cached-answers.js";
import { cacheNotices, cacheSettings, type CacheSettings } from "../src/config/cache-settings.js";
import { ModelGroups } from "../src/config/model-groups.js";
import { chunk, finished, response, started, type CallEvent, type Outcome } from "../src/outcome.js";
import { SUPPORTED_PROVIDERS } from "../src/providers/index.js";
import { MAX_CACHED_BYTES, ResponseCache } from "../src/response-cache.js";
import { readAll } from "./support/read-all.js";

// The response cache (litellm_settings.cache): which requests use it and
// under which key, what it keeps and for how long, and how a kept answer is
// handed out again. The gateway tests drive it end to end.

const settingsOf = (yaml: string) => cacheSettings(parseConfig(`litellm_settings:\n${yaml}`))!;
const ON = settingsOf("  cache: true\n");
/** How a request uses the cache without tag-based routing. */
const useOf = (settings: CacheSettings, callType: CallType, body: Record<string, unknown>) => cacheUse(settings, callType, body, String(body["model"]), []);
const chat = (extra: Record<string, unknown> = {}) => ({ model: "m", messages: [{ role: "user", content: "hi" }], temperature: 0.2, ...extra });

const deployment = ModelGroups.fromConfig(parseConfig(`model_list:\n  - { model_name: m, litellm_params: { model: openai/gpt-4o-mini, api_base: "http://x/v1" } }`), SUPPORTED_PROVIDERS).resolve("m")!
  .deployments[0]!;
const usage = { promptTokens: 10, completionTokens: 5, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
const freshOutcome = (): Outcome => ({ deployment: undefined, usage: undefined, usageEstimated: false, attemptedFallbacks: 0, failure: undefined });

/** An outcome as routing leaves it, and the whole answer's events. */
function answered(text: string): { outcome: Outcome; events: CallEvent[] } {
  const outcome = freshOutcome();
  outcome.deployment = deployment;
  return { outcome, events: [started(deployment), response({ text }), finished(outcome, deployment, usage)] };
}

describe("cache settings", () => {
  it("are off unless litellm_settings.cache is true, and take LiteLLM's defaults", () => {
    expect(cacheSettings(parseConfig("litellm_settings: { cache_params: { ttl: 5 } }\n"))).toBeUndefined();
    expect(ON).toMatchObject({ type: "local", shared: false, ttlMs: 600_000, namespace: "", defaultOn: true, maxEntries: 200 });
    expect(settingsOf("  cache: true\n  cache_params: { type: redis }\n")).toMatchObject({ type: "redis", shared: true });
    expect([...ON.callTypes].sort()).toEqual([CallType.CHAT_COMPLETIONS, CallType.EMBEDDINGS, CallType.RERANK, CallType.TEXT_COMPLETIONS].sort());
    const set = settingsOf("  cache: true\n  cache_params: { ttl: 30, namespace: team-a, mode: default_off, max_size_in_memory: 5, supported_call_types: [aembedding] }\n");
    expect(set).toMatchObject({ ttlMs: 30_000, namespace: "team-a", defaultOn: false, maxEntries: 5 });
    expect([...set.callTypes]).toEqual([CallType.EMBEDDINGS]);
    expect([...settingsOf("  cache: true\n  cache_params: { supported_call_types: [] }\n").callTypes]).toEqual([]);
  });

  it("say at start where they differ from LiteLLM's: a cache type not served, call types not cached", () => {
    const config = parseConfig("litellm_settings:\n  cache: true\n  cache_params: { type: s3, supported_call_types: [acompletion, atranscription] }\n");
    expect(cacheNotices(config)).toEqual([
      "cache_params.type s3: answers are cached in each router replica's memory (type local), not shared between replicas",
      "cache_params.supported_call_types: atranscription are not cached by this gateway",
    ]);
    expect(cacheNotices(parseConfig("litellm_settings: { cache: true }\n"))).toEqual([]);
    expect(cacheNotices(parseConfig("litellm_settings: { cache: true, cache_params: { type: redis } }\n"))).toEqual([]);
  });
});

describe("a request's use of the cache", () => {
  it("keys the request by what changes the answer: not key order, metadata or the cache controls", () => {
    const key = useOf(ON, CallType.CHAT_COMPLETIONS, chat())!.key;
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const reordered = { temperature: 0.2, messages: [{ content: "hi", role: "user" }], model: "m" };
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, reordered)!.key).toBe(key);
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ metadata: { run: 1 }, litellm_metadata: { tags: ["x"] }, cache: { ttl: 5 } }))!.key).toBe(key);
    for (const other of [chat({ temperature: 0.3 }), chat({ stream: true }), chat({ user: "u1" }), chat({ model: "n" }), chat({ cache: { namespace: "b" } })]) {
      expect(useOf(ON, CallType.CHAT_COMPLETIONS, other)!.key).not.toBe(key);
    }
    expect(useOf(ON, CallType.TEXT_COMPLETIONS, chat())!.key).not.toBe(key);
    expect(useOf(settingsOf("  cache: true\n  cache_params: { namespace: b }\n"), CallType.CHAT_COMPLETIONS, chat())!.key).toBe(
      useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { namespace: "b" } }))!.key,
    );
  });

  it("keys by the model group called, which a key's alias may put in place of the body's model", () => {
    const called = (body: Record<string, unknown>, model: string) => cacheUse(ON, CallType.CHAT_COMPLETIONS, body, model, [])!.key;
    // A name aliased to another group is not answered from that name's own group's answers, and shares the group's.
    expect(called(chat({ model: "gpt-4o" }), "m")).not.toBe(called(chat({ model: "gpt-4o" }), "gpt-4o"));
    expect(called(chat({ model: "gpt-4o" }), "m")).toBe(called(chat(), "m"));
  });

  it("keys by the request's tags when they choose its deployment", () => {
    const tagged = (tags: string[]) => cacheUse(ON, CallType.CHAT_COMPLETIONS, chat({ tags }), "m", tags)!.key;
    expect(tagged(["free"])).not.toBe(tagged(["paid"]));
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ tags: ["free"] }))!.key).toBe(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ tags: ["paid"] }))!.key);
  });

  it("follows the request's controls and the cache's mode", () => {
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat())).toMatchObject({ read: true, write: true, ttlMs: 600_000, maxAgeMs: undefined });
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { "no-cache": true } }))).toMatchObject({ read: false, write: true });
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { "no-store": true } }))).toMatchObject({ read: true, write: false });
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { "no-cache": true, "no-store": true } }))).toBeUndefined();
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { ttl: 5, "s-maxage": 2 } }))).toMatchObject({ ttlMs: 5000, maxAgeMs: 2000 });
    expect(useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { "use-cache": false } }))).toBeUndefined();
    expect(useOf(ON, CallType.IMAGE_GENERATIONS, { model: "m", prompt: "a cat" })).toBeUndefined();
    const optIn = settingsOf("  cache: true\n  cache_params: { mode: default_off }\n");
    expect(useOf(optIn, CallType.CHAT_COMPLETIONS, chat())).toBeUndefined();
    expect(useOf(optIn, CallType.CHAT_COMPLETIONS, chat({ cache: { "use-cache": true } }))).toMatchObject({ read: true, write: true });
  });

  it("refuses controls it cannot read", () => {
    for (const cache of ["yes", [1], { ttl: "long" }, { "s-maxage": -1 }, { namespace: 7 }]) {
      expect(() => useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache }))).toThrow(/cache/);
    }
  });
});

describe("the cache's answers", () => {
  it("keeps an answer until its time is up, and only as old as the request accepts", () => {
    let now = 1_000;
    const cache = new ResponseCache(() => now);
    const use = useOf(ON, CallType.CHAT_COMPLETIONS, chat({ cache: { ttl: 60 } }))!;
    const { outcome, events } = answered("hello");
    expect(keptAnswer(events, use, cache, outcome, () => now)).toBe(events);
    now += 10_000;
    expect(cache.get(use.key, undefined)?.events).toEqual([events[1]]);
    expect(cache.get(use.key, 5_000)).toBeUndefined();
    expect(cache.get(use.key, 10_000)).toBeDefined();
    now += 50_000;
    expect(cache.get(use.key, undefined)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("hands a kept answer out as the deployment's, the same tokens at no cost, and books it so", () => {
    const cache = new ResponseCache(() => 0);
    const use = useOf(ON, CallType.CHAT_COMPLETIONS, chat())!;
    const { outcome, events } = answered("hello");
    keptAnswer(events, use, cache, outcome, () => 0);
    const again = freshOutcome();
    const replayed = replay(cache.get(use.key, undefined)!, use.key, again);
    expect(replayed.map((e) => e.event.case)).toEqual(["started", "response", "finished"]);
    expect(replayed[0]!.event.value).toMatchObject({ modelGroup: "m", deploymentId: deployment.id, cacheKey: use.key });
    expect(replayed[1]).toBe(events[1]);
    expect(replayed[2]!.event.value).toMatchObject({ promptTokens: 10n, completionTokens: 5n, cost: 0 });
    expect(again).toMatchObject({ deployment, usage });
    // The answer that was kept started with no cache key.
    expect(events[0]!.event.value).toMatchObject({ cacheKey: "" });
  });

  it("keeps a stream once it is read to its end, not one that breaks or is given up", async () => {
    const cache = new ResponseCache(() => 0);
    const stream = (key: string, end: "done" | "break") => {
      const outcome = freshOutcome();
      outcome.deployment = deployment;
      async function* events() {
        yield started(deployment);
        yield chunk({ json: { delta: key } });
        if (end === "break") throw new Error("provider went away");
        yield finished(outcome, deployment, usage);
      }
      const use = useOf(ON, CallType.CHAT_COMPLETIONS, chat({ stream: true, messages: [{ role: "user", content: key }] }))!;
      return { use, answer: keptAnswer(events(), use, cache, outcome, () => 0) as AsyncIterable<CallEvent> };
    };
    const whole = stream("whole", "done");
    expect(await readAll(whole.answer)).toHaveLength(3);
    expect(cache.get(whole.use.key, undefined)?.events.map((e) => e.event.case)).toEqual(["chunk"]);
    const broken = stream("broken", "break");
    await expect(readAll(broken.answer)).rejects.toThrow("provider went away");
    const given = stream("given up", "done");
    const reader = given.answer[Symbol.asyncIterator]();
    await reader.next();
    await reader.return!();
    expect(cache.get(broken.use.key, undefined)).toBeUndefined();
    expect(cache.get(given.use.key, undefined)).toBeUndefined();
  });

  it("notes one call on its way per key, until it says it is over", async () => {
    const cache = new ResponseCache();
    expect(cache.leading("k")).toBeUndefined();
    const over = cache.lead("k")!;
    expect(cache.lead("k")).toBeUndefined();
    const waiting = cache.leading("k")!;
    let woken = false;
    void waiting.then(() => (woken = true));
    await Promise.resolve();
    expect(woken).toBe(false);
    over();
    await waiting;
    expect(woken).toBe(true);
    expect(cache.leading("k")).toBeUndefined();
    // A new call may lead once the last one is over; the old one's end does not end it.
    const next = cache.lead("k")!;
    over();
    expect(cache.leading("k")).toBeDefined();
    next();
    expect(cache.leading("k")).toBeUndefined();
  });

  it("keeps no failed or oversized answer, and drops the least recently used past its size", () => {
    const cache = new ResponseCache(() => 0);
    const small: CacheSettings = { ...ON, maxEntries: 2 };
    const uses = ["a", "b", "c"].map((content) => useOf(small, CallType.CHAT_COMPLETIONS, chat({ messages: [{ role: "user", content }] }))!);
    const failed = answered("no");
    failed.outcome.failure = "server_error";
    keptAnswer(failed.events, uses[0]!, cache, failed.outcome, () => 0);
    const huge = answered("x".repeat(MAX_CACHED_BYTES));
    keptAnswer(huge.events, uses[0]!, cache, huge.outcome, () => 0);
    expect(cache.size).toBe(0);
    for (const use of uses.slice(0, 2)) keptAnswer(answered("ok").events, use, cache, answered("ok").outcome, () => 0);
    // a is used again, so b is the least recently used when c comes.
    expect(cache.get(uses[0]!.key, undefined)).toBeDefined();
    const third = answered("ok");
    keptAnswer(third.events, uses[2]!, cache, third.outcome, () => 0);
    expect([uses[0], uses[1], uses[2]].map((use) => cache.get(use!.key, undefined) !== undefined)).toEqual([true, false, true]);
    cache.delete([uses[0]!.key, "not-a-key"]);
    expect(cache.size).toBe(1);
  });
});
