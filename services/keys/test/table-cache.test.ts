import { Code } from "@connectrpc/connect";
import { MemoryBus, NatsBus, openDatabase, pgErrorCode, type Bus, type Database } from "@gateway/common";
import { createTestBus, eventually, type TestBus, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeys } from "../src/index.js";
import { TableCache } from "../src/table-cache.js";
import type { TeamRow } from "../src/team-record.js";
import { TeamStore } from "../src/team-store.js";
import { asMaster, clientOf, config, keysPostgres, logger, type Keys } from "./support.js";

// The in-memory tables on the Postgres server and the real NATS, each test
// with caches of its own on two buses of one stream: two keys replicas.

let testDatabase: TestDatabase;
let database: Database;
let testBus: TestBus;
let otherBus: NatsBus;
let store: TeamStore;

beforeAll(async () => {
  testDatabase = await keysPostgres();
  database = await openDatabase({ url: testDatabase.url });
  testBus = await createTestBus();
  otherBus = await NatsBus.connect({ url: testBus.url, stream: testBus.stream, prefix: testBus.prefix });
  store = new TeamStore(database.db);
});

afterAll(async () => {
  await otherBus?.close();
  await testBus?.close();
  await database?.close();
  await testDatabase?.drop();
});

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A read held back: it has read its rows once `read` resolves, and answers them only after `release()`. */
interface Held {
  read: Promise<void>;
  release: () => void;
  /** What the read answers, once released. */
  answer: (rows: TeamRow[]) => Promise<TeamRow[]>;
}

function held(): Held {
  const read = deferred();
  const release = deferred();
  return {
    read: read.promise,
    release: release.resolve,
    answer: async (rows) => {
      read.resolve();
      await release.promise;
      return rows;
    },
  };
}

type ReadKind = "load" | "byIds";

let subjects = 0;

/**
 * A cache of the teams' aliases, counting its reads; `hold(kind)` holds
 * back its next read of that kind, and `lagMs`, if given, every read by
 * that long after it has read its rows (for reads to answer out of order).
 */
function teamAliases(bus: Bus, subject: string, lagMs?: () => number) {
  const reads = { load: 0, byIds: [] as string[][] };
  const holds = new Map<ReadKind, Held>();
  // Taken as a read is called, not as it answers: a push's read still in flight must not take it.
  const read = async (kind: ReadKind, rows: () => Promise<TeamRow[]>) => {
    const next = holds.get(kind);
    holds.delete(kind);
    if (next) return next.answer(await rows());
    if (!lagMs) return rows();
    const answer = await rows();
    await new Promise((resolve) => setTimeout(resolve, lagMs()));
    return answer;
  };
  const cache = new TableCache<TeamRow, string | null>(
    {
      what: "team",
      subject,
      load: async () => {
        reads.load++;
        return read("load", () => store.all());
      },
      byIds: async (ids) => {
        reads.byIds.push(ids);
        return read("byIds", () => store.byIds(ids));
      },
      idOf: (row) => row.teamId,
      toRecord: (row) => row.teamAlias,
      onChange: () => {},
    },
    bus,
    logger,
  );
  const hold = (kind: ReadKind): Held => {
    const next = held();
    holds.set(kind, next);
    return next;
  };
  return { cache, reads, hold };
}

const rename = (teamId: string, teamAlias: string) => store.change(teamId, async () => ({ teamAlias }));
const remove = (teamId: string) => store.delete([teamId], async () => {});
const encoded = (text: string) => new TextEncoder().encode(text);

/** A cache on each of the two buses, started, for the test to stop. */
async function twoReplicas(lagMs?: () => number) {
  const subject = `keys.test_teams_${++subjects}`;
  const here = teamAliases(testBus.bus, subject, lagMs);
  const there = teamAliases(otherBus, subject, lagMs);
  await here.cache.start();
  await there.cache.start();
  // Each bus subscribes apart from the other's pushes; a round trip on each (a push naming no row) makes sure the server has both subscriptions.
  for (const bus of [testBus.bus, otherBus]) await bus.deliver(subject, encoded('["no-such-team"]'), 5_000);
  // Read by both before a test holds a read back.
  await eventually("both replicas to take the push", async () => (here.reads.byIds.length > 0 && there.reads.byIds.length > 0 ? true : undefined));
  return { subject, here, there, stop: () => [here, there].forEach((r) => r.cache.stop()) };
}

describe("a table in memory", () => {
  it("reads back only the rows a change names, here and on the other replica", async () => {
    await store.insert({ teamId: "t-changed", teamAlias: "before" });
    await store.insert({ teamId: "t-untouched", teamAlias: "kept" });
    const { here, there, stop } = await twoReplicas();
    try {
      expect(there.cache.get("t-changed")).toBe("before");
      await rename("t-changed", "after");
      await store.insert({ teamId: "t-made", teamAlias: "new" });
      await here.cache.changed(["t-changed", "t-made"]);
      expect(here.cache.get("t-changed")).toBe("after");
      expect(here.cache.get("t-made")).toBe("new");
      expect(here.cache.get("t-untouched")).toBe("kept");
      await eventually("the other replica to read the change", async () => (there.cache.get("t-made") === "new" ? true : undefined));
      expect(there.cache.get("t-changed")).toBe("after");
      // One full read each, at the start: the change was read by its ids.
      for (const replica of [here, there]) {
        expect(replica.reads.load).toBe(1);
        expect(replica.reads.byIds).toContainEqual(["t-changed", "t-made"]);
      }
    } finally {
      stop();
    }
  });

  it("drops a deleted row, here and on the other replica", async () => {
    await store.insert({ teamId: "t-deleted", teamAlias: "doomed" });
    const { here, there, stop } = await twoReplicas();
    try {
      expect(there.cache.get("t-deleted")).toBe("doomed");
      await remove("t-deleted");
      await here.cache.changed(["t-deleted"]);
      expect(here.cache.get("t-deleted")).toBeUndefined();
      await eventually("the other replica to drop the row", async () => (there.cache.get("t-deleted") === undefined ? true : undefined));
    } finally {
      stop();
    }
  });

  it("keeps a row's newer read over an older one that finishes after it", async () => {
    await store.insert({ teamId: "t-raced", teamAlias: "v1" });
    const { here, stop } = await twoReplicas();
    try {
      const stale = here.hold("byIds");
      const older = here.cache.refresh(["t-raced"]);
      await stale.read;
      await rename("t-raced", "v2");
      await here.cache.refresh(["t-raced"]);
      expect(here.cache.get("t-raced")).toBe("v2");
      stale.release();
      await older;
      expect(here.cache.get("t-raced")).toBe("v2");
    } finally {
      stop();
    }
  });

  it("brings back no deleted row from a read that started before its deletion, of that row or of the whole table", async () => {
    await store.insert({ teamId: "t-gone", teamAlias: "here" });
    const { here, stop } = await twoReplicas();
    try {
      const staleRow = here.hold("byIds");
      const olderRow = here.cache.refresh(["t-gone"]);
      await staleRow.read;
      const staleTable = here.hold("load");
      const olderTable = here.cache.reload();
      await staleTable.read;
      await remove("t-gone");
      await here.cache.changed(["t-gone"]);
      expect(here.cache.get("t-gone")).toBeUndefined();
      staleRow.release();
      staleTable.release();
      await Promise.all([olderRow, olderTable]);
      expect(here.cache.get("t-gone")).toBeUndefined();
    } finally {
      stop();
    }
  });

  it("keeps a whole-table read over an older read of a row", async () => {
    await store.insert({ teamId: "t-overtaken", teamAlias: "v1" });
    const { here, stop } = await twoReplicas();
    try {
      const stale = here.hold("byIds");
      const older = here.cache.refresh(["t-overtaken"]);
      await stale.read;
      await rename("t-overtaken", "v2");
      await here.cache.reload();
      stale.release();
      await older;
      expect(here.cache.get("t-overtaken")).toBe("v2");
    } finally {
      stop();
    }
  });

  it("reads the whole table again for a change not known row by row, and for an empty push (as replicas before ids were pushed send it)", async () => {
    const { subject, here, there, stop } = await twoReplicas();
    try {
      await store.insert({ teamId: "t-unnamed", teamAlias: "one" });
      await here.cache.allChanged();
      expect(here.cache.get("t-unnamed")).toBe("one");
      await eventually("the other replica to read the table", async () => (there.cache.get("t-unnamed") === "one" ? true : undefined));
      await rename("t-unnamed", "two");
      testBus.bus.broadcast(subject, new Uint8Array(0));
      await eventually("both replicas to read the table again", async () => (here.cache.get("t-unnamed") === "two" && there.cache.get("t-unnamed") === "two" ? true : undefined));
      for (const replica of [here, there]) expect(replica.reads.byIds.flat()).not.toContain("t-unnamed");
    } finally {
      stop();
    }
  });

  it("reads the whole table again, here and there, for a change of more rows than a push names, and there for ids too long to push", async () => {
    const { here, there, stop } = await twoReplicas();
    try {
      await store.insert({ teamId: "t-among-many", teamAlias: "many" });
      await here.cache.changed(["t-among-many", ...Array.from({ length: 1_000 }, (_, i) => `t-absent-${i}`)]);
      expect(here.cache.get("t-among-many")).toBe("many");
      await eventually("the other replica to read the table", async () => (there.cache.get("t-among-many") === "many" ? true : undefined));
      // 400 KB of ids: no push carries them.
      const long = ["t-beside-long-ids", ...Array.from({ length: 200 }, (_, i) => `t-long-${i}-${"x".repeat(2_000)}`)];
      await store.insert({ teamId: "t-beside-long-ids", teamAlias: "beside" });
      await here.cache.changed(long);
      expect(here.cache.get("t-beside-long-ids")).toBe("beside");
      await eventually("the other replica to read the table again", async () => (there.cache.get("t-beside-long-ids") === "beside" ? true : undefined));
      for (const replica of [here, there]) expect(replica.reads.byIds.flat()).not.toContain("t-among-many");
      expect(here.reads.byIds).toContainEqual(long);
      expect(there.reads.byIds.flat()).not.toContain("t-beside-long-ids");
    } finally {
      stop();
    }
  });
});

describe("a table changed on both replicas at once", () => {
  it("ends on both as the database has it", async () => {
    const teamIds = ["t-contended-0", "t-contended-1", "t-contended-2"];
    for (const teamId of teamIds) await store.insert({ teamId, teamAlias: "first" });
    // Seeded: the same changes every run, in an order timing decides.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed % n;
    };
    let next = 0;
    // One read in three answers 50 ms late, so an older read of a row often
    // answers after a newer one; none of the last changes' reads do, for a
    // stale read to answer after a row's last read.
    const { here, there, stop } = await twoReplicas(() => (next < 190 && Math.random() < 0.3 ? 50 : 0));
    try {
      const operation = async () => {
        const n = next++;
        const teamId = teamIds[random(teamIds.length)]!;
        const replica = random(2) === 0 ? here : there;
        const kind = random(20);
        if (kind < 10) await rename(teamId, `alias-${n}`);
        else if (kind < 15) await remove(teamId);
        else await store.insert({ teamId, teamAlias: `made-${n}` }).catch((err: unknown) => {
          if (pgErrorCode(err) !== "23505") throw err;
        });
        if (kind === 19) await replica.cache.allChanged();
        else await replica.cache.changed([teamId]);
      };
      // 200 changes, 10 at a time.
      await Promise.all(Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 20; i++) await operation();
      }));
      const asStored = async () => new Map((await store.all()).map((row) => [row.teamId, row.teamAlias]));
      // Every stored row and no other: the ids no row has now included.
      const matches = (replica: ReturnType<typeof teamAliases>, rows: Map<string, string | null>) =>
        [...rows].every(([teamId, alias]) => replica.cache.get(teamId) === alias) && [...replica.cache.all()].length === rows.size;
      await eventually("both replicas to hold the table as stored", async () => {
        const rows = await asStored();
        return matches(here, rows) && matches(there, rows) ? true : undefined;
      });
    } finally {
      stop();
    }
  });
});

describe("a table's pushes", () => {
  /**
   * A push naming no row from `bus`, taken by both replicas: NATS keeps the
   * order of one connection's messages, so each has started the reads of
   * every push that bus sent before (not necessarily finished them).
   */
  async function behind(bus: NatsBus, subject: string, replicas: ReturnType<typeof teamAliases>[]) {
    const marker = `no-such-team-${Math.random()}`;
    await bus.deliver(subject, encoded(JSON.stringify([marker])), 5_000);
    await eventually("both replicas to take the marker", async () => (replicas.every((r) => r.reads.byIds.flat().includes(marker)) ? true : undefined));
  }
  const readsOf = (replica: ReturnType<typeof teamAliases>, teamId: string) => replica.reads.byIds.filter((ids) => ids.includes(teamId)).length;

  it("are not read again by their sender, and are by the other replica", async () => {
    await store.insert({ teamId: "t-own", teamAlias: "v1" });
    const { subject, here, there, stop } = await twoReplicas();
    try {
      await rename("t-own", "v2");
      await here.cache.changed(["t-own"]);
      await eventually("the other replica to read the row", async () => (there.cache.get("t-own") === "v2" ? true : undefined));
      await behind(testBus.bus, subject, [here, there]);
      expect([readsOf(here, "t-own"), readsOf(there, "t-own")]).toEqual([1, 1]);
      const loads = [here.reads.load, there.reads.load];
      await here.cache.allChanged();
      await behind(testBus.bus, subject, [here, there]);
      expect([here.reads.load, there.reads.load]).toEqual([loads[0]! + 1, loads[1]! + 1]);
      // Ids too long to push go as the whole table, from here too.
      const long = ["t-own", `t-long-${"x".repeat(300_000)}`];
      await here.cache.changed(long);
      await behind(testBus.bus, subject, [here, there]);
      expect([here.reads.load, there.reads.load]).toEqual([loads[0]! + 1, loads[1]! + 2]);
      expect([readsOf(here, "t-own"), readsOf(there, "t-own")]).toEqual([2, 1]);
    } finally {
      stop();
    }
  });

  it("of ids alone, as replicas before senders were named send them, are read by every replica", async () => {
    await store.insert({ teamId: "t-bare", teamAlias: "v1" });
    const { subject, here, there, stop } = await twoReplicas();
    try {
      await rename("t-bare", "v2");
      testBus.bus.broadcast(subject, encoded('["t-bare"]'));
      await eventually("both replicas to read the row", async () => (here.cache.get("t-bare") === "v2" && there.cache.get("t-bare") === "v2" ? true : undefined));
      expect([here.reads.load, there.reads.load]).toEqual([1, 1]);
    } finally {
      stop();
    }
  });

  it("in one process are read once by their sender and by each other cache of the table", async () => {
    await store.insert({ teamId: "t-one-process", teamAlias: "v1" });
    const bus = new MemoryBus();
    const subject = `keys.test_teams_${++subjects}`;
    const here = teamAliases(bus, subject);
    const there = teamAliases(bus, subject);
    await here.cache.start();
    await there.cache.start();
    try {
      await rename("t-one-process", "v2");
      await here.cache.changed(["t-one-process"]);
      await eventually("the other cache to read the row", async () => (there.cache.get("t-one-process") === "v2" ? true : undefined));
      expect(here.cache.get("t-one-process")).toBe("v2");
      // The in-process bus calls its listeners as a push is sent: any read again would have started.
      expect([readsOf(here, "t-one-process"), readsOf(there, "t-one-process")]).toEqual([1, 1]);
      await here.cache.allChanged();
      expect([here.reads.load, there.reads.load]).toEqual([2, 2]);
    } finally {
      here.cache.stop();
      there.cache.stop();
      await bus.close();
    }
  });
});

describe("teams across keys replicas", () => {
  let a: Keys;
  let b: Keys;
  beforeAll(async () => {
    a = await startKeys({ config, database, bus: testBus.bus, logger });
    b = await startKeys({ config, database, bus: otherBus, logger });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  it("refuses a team's keys on every replica once it is blocked on one", async () => {
    await clientOf(a).createTeam({ teamId: "blocked-on-a" }, asMaster);
    const { key } = await clientOf(a).generateKey({ settings: { teamId: "blocked-on-a" } }, asMaster);
    let requests = 0;
    const askB = () => clientOf(b).authorize({ apiKey: key, requestId: `across-${++requests}`, model: "fast-model", promptTokens: 10, maxTokens: 10 });
    await expect(askB()).resolves.toMatchObject({ teamId: "blocked-on-a" });
    await clientOf(a).blockTeam({ teamId: "blocked-on-a" }, asMaster);
    await eventually("the other replica to refuse the blocked team's key", () =>
      askB().then(
        () => undefined,
        (err: unknown) => err,
      ),
    ).then((err) => expect(err).toMatchObject({ code: Code.Unauthenticated, rawMessage: expect.stringContaining("blocked") }));
    await clientOf(a).unblockTeam({ teamId: "blocked-on-a" }, asMaster);
    await eventually("the other replica to let the key through again", () => askB().then((answer) => answer, () => undefined));
  });
});
