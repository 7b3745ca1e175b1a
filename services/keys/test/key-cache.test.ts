import { randomUUID } from "node:crypto";
import { hashKey, KEYS_DELETED_SUBJECT, type Database } from "@gateway/common";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { KeyCache } from "../src/key-cache.js";
import type { KeyRow } from "../src/key-record.js";
import { KeyStore } from "../src/key-store.js";
import { MemoryBus, keysDatabase, logger } from "./support.js";

/** The real store, whose full reloads can be held between reading the rows and handing them over. */
class HeldStore extends KeyStore {
  hold: Promise<void> | undefined;
  read: (() => void) | undefined;

  override async all(): Promise<KeyRow[]> {
    const rows = await super.all();
    this.read?.();
    await this.hold;
    return rows;
  }
}

/** The real store, whose single-key reads fail while `down` (the database gone between a change's commit and its read back). */
class FlakyStore extends KeyStore {
  down = false;

  override async byHash(hash: string): Promise<KeyRow | undefined> {
    if (this.down) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.byHash(hash);
  }
}

let database: Database;
beforeAll(async () => {
  database = await keysDatabase();
});
afterAll(async () => {
  await database.close();
});

async function newKey(store: KeyStore): Promise<{ id: string; hash: string }> {
  const key = `sk-${randomUUID()}`;
  const row = await store.insert({ id: randomUUID(), keyHash: hashKey(key), keyName: "sk-...test" });
  return { id: row.id, hash: row.keyHash };
}

describe("the key cache", () => {
  it("keeps a key deleted while a full reload was reading, rather than bring it back from the older rows", async () => {
    const store = new HeldStore(database.db);
    const cache = new KeyCache(store, new MemoryBus(), logger);
    await cache.start();
    try {
      const { hash } = await newKey(store);
      await cache.refresh(hash);
      expect(cache.get(hash)).toBeDefined();

      let release = () => {};
      store.hold = new Promise((resolve) => (release = resolve));
      const rowsRead = new Promise<void>((resolve) => (store.read = resolve));
      const reload = cache.resync();
      await rowsRead;
      // Deleted after the reload read its rows, and applied here first.
      await store.delete([hash], async () => {});
      await cache.changed(hash);
      expect(await cache.get(hash)).toBeUndefined();
      release();
      await reload;
      expect(await cache.get(hash)).toBeUndefined();
    } finally {
      cache.stop();
    }
  });

  it("forgets at its full reloads the hashes it found in no table (each deleted key's) once they are old enough to be asked again", async () => {
    const store = new KeyStore(database.db);
    const cache = new KeyCache(store, new MemoryBus(), logger);
    const unknown = () => (cache as unknown as { unknown: Map<string, number> }).unknown;
    await cache.start();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const { hash } = await newKey(store);
      await cache.refresh(hash);
      await store.delete([hash], async () => {});
      await cache.refresh(hash);
      expect(cache.get(hash)).toBeUndefined();
      expect(unknown().size).toBe(1);
      // Still remembered a moment later, so a client hammering with it costs no query...
      await cache.resync();
      expect(unknown().size).toBe(1);
      // ...and forgotten once it would be asked again anyway.
      vi.setSystemTime(Date.now() + 6_000);
      await cache.resync();
      expect(unknown().size).toBe(0);
    } finally {
      vi.useRealTimers();
      cache.stop();
    }
  });

  it("tells every process the hashes of keys a change deleted (for their metric series), and nothing for keys still there", async () => {
    const store = new KeyStore(database.db);
    const bus = new MemoryBus();
    const cache = new KeyCache(store, bus, logger);
    const told: string[][] = [];
    const stop = bus.listen(KEYS_DELETED_SUBJECT, (data) => told.push(JSON.parse(Buffer.from(data).toString()) as string[]));
    await cache.start();
    try {
      const [kept, gone] = [await newKey(store), await newKey(store)];
      await cache.changed(kept.hash, gone.hash);
      expect(told).toEqual([]);
      await store.delete([gone.hash], async () => {});
      await cache.changed(kept.hash, gone.hash);
      expect(told).toEqual([[gone.hash]]);
    } finally {
      stop();
      cache.stop();
    }
  });

  it("serves no copy of a changed key it cannot read back, here or on the replicas it tells, and still tells them", async () => {
    const bus = new MemoryBus();
    const stores = [new FlakyStore(database.db), new FlakyStore(database.db)];
    const [here, there] = stores.map((store) => new KeyCache(store, bus, logger));
    await here!.start();
    await there!.start();
    try {
      const { hash } = await newKey(stores[0]!);
      await here!.refresh(hash);
      await there!.refresh(hash);
      expect(here!.get(hash)).toMatchObject({ hash });
      expect(there!.get(hash)).toMatchObject({ hash });

      // Deleted (committed), then the database goes before the change is read back.
      await stores[0]!.delete([hash], async () => {});
      for (const store of stores) store.down = true;
      await here!.changed(hash);
      await new Promise((resolve) => setImmediate(resolve));
      for (const cache of [here!, there!]) await expect(cache.get(hash)).rejects.toThrow("ECONNREFUSED");

      for (const store of stores) store.down = false;
      expect(await here!.get(hash)).toBeUndefined();
      expect(await there!.get(hash)).toBeUndefined();
    } finally {
      here!.stop();
      there!.stop();
    }
  });
});
