import { sql } from "drizzle-orm";
import { TcpProxy } from "@gateway/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { databaseUnreachable, openDatabase, rowsOf, type Database } from "../src/database.js";

// A transaction's connection to the real Postgres passes through a proxy here
// that cuts it, as a Postgres restart or a failover does, while the
// transaction holds it. postgres.js 3.4 then wrote the rollback (or the
// transaction's next statement) to the connection it had already let go,
// from a timer: a TypeError nothing could catch, and the process stopped.

let proxy: TcpProxy;

beforeAll(async () => {
  proxy = await TcpProxy.start({ host: "127.0.0.1", port: 5432 });
});
afterAll(() => proxy.close());

describe("a transaction whose connection is cut", () => {
  let database: Database | undefined;
  const uncaught: unknown[] = [];
  const collect = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    database = await openDatabase({ url: proxy.urlTo("postgres://postgres@127.0.0.1/postgres"), max: 2, connectTimeoutSeconds: 5 });
    process.on("uncaughtException", collect);
    process.on("unhandledRejection", collect);
  });
  afterEach(() => {
    proxy.refusing = false;
  });
  afterAll(async () => {
    process.off("uncaughtException", collect);
    process.off("unhandledRejection", collect);
    await database?.close();
  });

  /** Lets the timers a closed connection may have left run, then checks that none of them threw. */
  async function settledWithoutUncaught(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(uncaught.map(String)).toEqual([]);
  }

  /** A statement on the same pool, once the proxy lets connections through again. */
  async function poolAnswers(db: Database): Promise<void> {
    proxy.refusing = false;
    const rows = await db.db.execute(sql`SELECT 1 AS one`);
    expect(rowsOf(rows)).toEqual([{ one: 1 }]);
  }

  it("rejects when the connection is cut while its statement runs, and the pool serves the next one", async () => {
    const db = database!;
    const running = db.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_sleep(2)`);
    });
    const outcome = running.then(
      () => "committed",
      (err: unknown) => err,
    );
    // In flight once Postgres shows it running (asked on the pool's other connection).
    await expect
      .poll(async () => rowsOf(await db.db.execute(sql`SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = 'active'`)).length)
      .toBe(1);
    proxy.refusing = true;
    proxy.cut();
    const err = await outcome;
    expect(err).toBeInstanceOf(Error);
    // What the services answer for: the database unavailable, not a statement it refused.
    expect(databaseUnreachable(err)).toBe(true);
    await settledWithoutUncaught();
    await poolAnswers(db);
  });

  it("rejects when the callback's next statement comes after the cut, and the pool serves the next one", async () => {
    const db = database!;
    let cutDone!: () => void;
    const afterCut = new Promise<void>((resolve) => (cutDone = resolve));
    let firstRan = false;
    const running = db.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT 1`);
      firstRan = true;
      await afterCut;
      await tx.execute(sql`SELECT 2`);
    });
    const outcome = running.then(
      () => "committed",
      (err: unknown) => err,
    );
    await expect.poll(() => firstRan).toBe(true);
    proxy.refusing = true;
    proxy.cut();
    // Let the pool see the close before the callback goes on.
    await new Promise((resolve) => setTimeout(resolve, 100));
    cutDone();
    const err = await outcome;
    expect(err).toBeInstanceOf(Error);
    // What the services answer for: the database unavailable, not a statement it refused.
    expect(databaseUnreachable(err)).toBe(true);
    await settledWithoutUncaught();
    await poolAnswers(db);
  });
});
