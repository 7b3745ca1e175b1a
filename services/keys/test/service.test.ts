import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { Database } from "@gateway/common";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeys } from "../src/index.js";
import { ReservationPricing } from "../src/reservation-pricing.js";
import { MASTER, MemoryBus, config, keysDatabase, logger } from "./support.js";

let database: Database;
let keys: Awaited<ReturnType<typeof startKeys>>;
const bus = new MemoryBus();

beforeAll(async () => {
  database = await keysDatabase();
  keys = await startKeys({ config, database, bus, logger });
});
afterAll(async () => {
  await keys.stop();
  await database.close();
});

const client = () => createClient(KeysService, createRouterTransport(keys.routes));
const asMaster = { headers: { authorization: `Bearer ${MASTER}` } };

describe("keys service over a Connect transport", () => {
  it("requires the master key for management calls", async () => {
    const err = await client().generateKey({}).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.Unauthenticated });
    const wrong = await client()
      .generateKey({}, { headers: { authorization: "Bearer sk-not-the-master" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(wrong).toMatchObject({ code: Code.Unauthenticated });
  });

  it("authorizes a generated key, and releases its parallel slot", async () => {
    const minted = await client().generateKey({ settings: { maxParallelRequests: 1 } }, asMaster);
    const auth = await client().authorize({ apiKey: minted.key, requestId: "r1", model: "fast-model" });
    expect(auth.keyHash).toBe(minted.info?.keyHash);
    await expect(client().authorize({ apiKey: minted.key, requestId: "r2", model: "fast-model" })).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    await client().release({ requestId: "r1", keyHash: auth.keyHash, holder: auth.holder });
    await expect(client().authorize({ apiKey: minted.key, requestId: "r3", model: "fast-model" })).resolves.toMatchObject({ keyHash: auth.keyHash });
  });

  it("hands a release for another replica to that replica over the bus", async () => {
    const other = await startKeys({ config, database, bus, logger });
    try {
      const minted = await client().generateKey({ settings: { maxParallelRequests: 1 } }, asMaster);
      const otherClient = createClient(KeysService, createRouterTransport(other.routes));
      const auth = await otherClient.authorize({ apiKey: minted.key, requestId: "x1", model: "fast-model" });
      // Released through this replica, settled on the one holding the slot.
      await client().release({ requestId: "x1", keyHash: auth.keyHash, holder: auth.holder });
      await expect(otherClient.authorize({ apiKey: minted.key, requestId: "x2", model: "fast-model" })).resolves.toBeDefined();
    } finally {
      await other.stop();
    }
  });

  it("refuses unknown, blocked and wrong-model keys", async () => {
    await expect(client().authorize({ apiKey: "sk-unknown-key-000000", requestId: "u" })).rejects.toMatchObject({ code: Code.Unauthenticated });
    const minted = await client().generateKey({ settings: { models: { models: ["smart-model"] } } }, asMaster);
    await expect(client().authorize({ apiKey: minted.key, requestId: "m", model: "fast-model" })).rejects.toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringContaining("fast-model"),
    });
    await client().blockKey({ ref: { ref: { case: "key", value: minted.key } } }, asMaster);
    await expect(client().authorize({ apiKey: minted.key, requestId: "b", model: "smart-model" })).rejects.toMatchObject({
      rawMessage: expect.stringContaining("blocked"),
    });
  });
});

describe("answers a caller may keep", () => {
  it("says how long an answer may be reused: until the key expires, never when it reserves", async () => {
    const plain = await client().generateKey({}, asMaster);
    expect((await client().authorize({ apiKey: plain.key, requestId: "k1", model: "fast-model" })).reusableUntilMs).toBe(Number.MAX_SAFE_INTEGER);
    const expiring = await client().generateKey({ settings: { duration: "1h" } }, asMaster);
    const until = (await client().authorize({ apiKey: expiring.key, requestId: "k2", model: "fast-model" })).reusableUntilMs;
    expect(until).toBe(Number(expiring.info?.expiresAtMs));
    const limited = await client().generateKey({ settings: { rpmLimit: 100 } }, asMaster);
    const reserving = await client().authorize({ apiKey: limited.key, requestId: "k3", model: "fast-model" });
    expect(reserving).toMatchObject({ reserved: true, reusableUntilMs: 0 });
    expect((await client().authorize({ apiKey: MASTER, requestId: "k4", model: "fast-model" })).reusableUntilMs).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("streams each key change to its watchers, after telling them to forget everything, and ends the streams on closing", async () => {
    const watcher = client().watchKeys({})[Symbol.asyncIterator]();
    expect((await watcher.next()).value).toMatchObject({ all: true, keyHash: "" });
    const minted = await client().generateKey({}, asMaster);
    const changed = minted.info!.keyHash;
    // Made, then blocked: each change is pushed with the key's hash.
    const seen = async () => {
      for (;;) {
        const { value } = await watcher.next();
        if (value?.keyHash !== "") return value?.keyHash;
      }
    };
    expect(await seen()).toBe(changed);
    await client().blockKey({ ref: { ref: { case: "keyHash", value: changed } } }, asMaster);
    expect(await seen()).toBe(changed);
    keys.closing();
    expect(await watcher.next()).toMatchObject({ done: true });
  });
});

describe("key info", () => {
  const byKey = (key: string) => ({ ref: { case: "key" as const, value: key } });
  const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

  it("lets a virtual key read its own info, and only its own", async () => {
    const mine = await client().generateKey({ settings: { keyAlias: "mine" } }, asMaster);
    const other = await client().generateKey({ settings: { keyAlias: "theirs" } }, asMaster);
    expect((await client().getKey({ ref: byKey(mine.key) }, as(mine.key))).key?.keyHash).toBe(mine.info?.keyHash);
    for (const ref of [byKey(other.key), { ref: { case: "keyAlias" as const, value: "theirs" } }, { ref: { case: "keyAlias" as const, value: "nobody" } }, byKey(MASTER)]) {
      await expect(client().getKey({ ref }, as(mine.key))).rejects.toMatchObject({ code: Code.PermissionDenied });
    }
    await expect(client().getKey({ ref: byKey(mine.key) }, as("sk-not-a-key-at-all-000"))).rejects.toMatchObject({ code: Code.Unauthenticated });
    await client().blockKey({ ref: byKey(mine.key) }, asMaster);
    await expect(client().getKey({ ref: byKey(mine.key) }, as(mine.key))).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it("shows the master key to itself, without limits", async () => {
    const { key } = await client().getKey({ ref: byKey(MASTER) }, asMaster);
    expect(key).toMatchObject({ keyName: `sk-...${MASTER.slice(-4)}`, models: [], blocked: false });
    expect(key?.maxBudget).toBeUndefined();
    expect(key?.spend).toBeUndefined();
  });

  it("refuses the master key as a key chosen for a new or regenerated key, which it would always win over", async () => {
    const generated = await client().generateKey({ key: MASTER, settings: { maxBudget: 0 } }, asMaster).catch((e: unknown) => ConnectError.from(e));
    expect(generated).toMatchObject({ code: Code.InvalidArgument, rawMessage: "a custom key may not be the master key" });
    const minted = await client().generateKey({}, asMaster);
    const regenerated = await client().regenerateKey({ ref: byKey(minted.key), newKey: MASTER }, asMaster).catch((e: unknown) => ConnectError.from(e));
    expect(regenerated).toMatchObject({ code: Code.InvalidArgument, rawMessage: "a custom key may not be the master key" });
    // The key itself is as it was.
    expect((await client().authorize({ apiKey: minted.key, requestId: "custom-master", model: "fast-model" })).keyHash).toBe(minted.info?.keyHash);
  });

  it("shows a budgeted key's spend, kept when the key is regenerated", async () => {
    const minted = await client().generateKey({ settings: { maxBudget: 1 } }, asMaster);
    const auth = await client().authorize({ apiKey: minted.key, requestId: "s1", model: "fast-model", promptTokens: 10, maxTokens: 10 });
    await client().release({ requestId: "s1", keyHash: auth.keyHash, holder: auth.holder, cost: 0.25 });
    expect((await client().getKey({ ref: byKey(minted.key) }, asMaster)).key?.spend).toBe(0.25);
    const regenerated = await client().regenerateKey({ ref: byKey(minted.key) }, asMaster);
    expect(regenerated.info).toMatchObject({ spend: 0.25, previousKeyHashes: [minted.info?.keyHash] });
    expect((await client().listKeys({ size: 100 }, asMaster)).keys.find((k) => k.keyHash === regenerated.info?.keyHash)?.spend).toBe(0.25);
  });

  it("settles a release whose usage is unknown as if the request used all it reserved, and only the first release of a request", async () => {
    const reservation = new ReservationPricing(config).maxCost("fast-model", 10, 10);
    const minted = await client().generateKey({ settings: { maxBudget: 1 } }, asMaster);
    const auth = await client().authorize({ apiKey: minted.key, requestId: "u1", model: "fast-model", promptTokens: 10, maxTokens: 10 });
    await client().release({ requestId: "u1", keyHash: auth.keyHash, holder: auth.holder, usageUnknown: true });
    // A later release of the same request (the router's, arriving late) changes nothing.
    await client().release({ requestId: "u1", keyHash: auth.keyHash, holder: auth.holder, cost: 0.5 });
    expect((await client().getKey({ ref: byKey(minted.key) }, asMaster)).key?.spend).toBe(reservation);
  });

  it("refuses a budget with its spend as the current cost, and what requests in flight and this one reserve apart", async () => {
    const reservation = new ReservationPricing(config).maxCost("fast-model", 10, 10);
    const minted = await client().generateKey({ settings: { maxBudget: reservation * 1.5 } }, asMaster);
    const ask = (requestId: string) => client().authorize({ apiKey: minted.key, requestId, model: "fast-model", promptTokens: 10, maxTokens: 10 });
    await ask("b1");
    await expect(ask("b2")).rejects.toMatchObject({
      rawMessage: `Budget has been exceeded! Current cost: 0 (+${reservation} reserved for requests in flight), Max budget: ${reservation * 1.5}. This request may cost up to ${reservation}.`,
    });
    // Settled, the spend is the current cost, and nothing is in flight.
    await client().release({ requestId: "b1", keyHash: minted.info!.keyHash, cost: reservation / 4 });
    await ask("b3");
    await client().release({ requestId: "b3", keyHash: minted.info!.keyHash, cost: (3 * reservation) / 4 });
    await expect(ask("b4")).rejects.toMatchObject({
      rawMessage: `Budget has been exceeded! Current cost: ${reservation / 4 + (3 * reservation) / 4}, Max budget: ${reservation * 1.5}. This request may cost up to ${reservation}.`,
    });
  });
});
