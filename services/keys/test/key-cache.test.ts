import { randomUUID } from "node:crypto";
import { hashKey, type Database } from "@gateway/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
      await store.delete([hash]);
      await cache.changed(hash);
      expect(await cache.get(hash)).toBeUndefined();
      release();
      await reload;
      expect(await cache.get(hash)).toBeUndefined();
    } finally {
      cache.stop();
    }
  });
});
