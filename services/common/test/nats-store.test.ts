// @gateway/testing depends on this package, so it is not listed among its
// dependencies (turbo refuses cycles); the workspace links it all the same.
import { createTestBus, eventually, type TestBus } from "@gateway/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus, type SharedStore } from "../src/index.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data));
const LIMITS = { maxAgeMs: 60_000, maxBytes: 1 << 20 };

// A shared store on the real JetStream, as two replicas of a bus see it.
describe("a shared store on NATS", () => {
  let testBus: TestBus;
  let other: NatsBus;
  let a: SharedStore;
  let b: SharedStore;
  beforeAll(async () => {
    testBus = await createTestBus();
    other = await NatsBus.connect({ url: testBus.url, stream: testBus.stream, prefix: testBus.prefix });
    a = await testBus.bus.openStore("answers", LIMITS);
    b = await other.openStore("answers", LIMITS);
  });
  afterAll(async () => {
    await other?.close();
    await testBus?.close();
  });

  it("reads on one replica what another put, the last value of a key, and misses what nobody put", async () => {
    await a.put("key-1", bytes("first"));
    await a.put("key-1", bytes("second"));
    await b.put("key_2", bytes("other"));
    expect(text(await b.get("key-1"))).toBe("second");
    expect(text(await a.get("key_2"))).toBe("other");
    expect(await b.get("nobody-put-this")).toBeUndefined();
  });

  it("deletes keys and clears for every replica", async () => {
    await a.put("gone", bytes("x"));
    await a.put("kept", bytes("y"));
    await b.delete(["gone"]);
    expect(await a.get("gone")).toBeUndefined();
    expect(text(await a.get("kept"))).toBe("y");
    await b.clear();
    expect(await a.get("kept")).toBeUndefined();
  });

  it("keeps one value a key, drops the oldest past its bytes, and refuses keys that are not subject tokens", async () => {
    const small = await testBus.bus.openStore("small", { maxAgeMs: 60_000, maxBytes: 4096 });
    for (let i = 0; i < 20; i++) await small.put(`k${i}`, new Uint8Array(1000));
    expect(await small.get("k0")).toBeUndefined();
    expect(await small.get("k19")).toHaveLength(1000);
    await expect(small.put("a.b", bytes("x"))).rejects.toThrow(/letters, digits/);
    await expect(small.get("*")).rejects.toThrow(/letters, digits/);
  });

  it("drops values past their age", async () => {
    const brief = await testBus.bus.openStore("brief", { maxAgeMs: 1000, maxBytes: 1 << 20 });
    await brief.put("soon-gone", bytes("x"));
    expect(text(await brief.get("soon-gone"))).toBe("x");
    await eventually("the value to age out", async () => ((await brief.get("soon-gone")) === undefined ? true : undefined), 5000);
  });

  it("deletes the stores' streams with the bus's", async () => {
    const scratch = await createTestBus();
    await scratch.bus.openStore("answers", LIMITS);
    await scratch.close();
    const nc = await connect({ servers: testBus.url });
    try {
      const names: string[] = [];
      for await (const name of (await jetstreamManager(nc)).streams.names()) names.push(name);
      expect(names.filter((name) => name.startsWith(scratch.stream))).toEqual([]);
    } finally {
      await nc.close();
    }
  });
});
