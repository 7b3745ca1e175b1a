import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { TcpProxy } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUnreachable, openDatabase, rowsOf, type Database } from "../src/database.js";

// The pool's connections to the real Postgres pass through a proxy that can
// stop passing bytes on without closing anything, as a Postgres that froze
// (a stalled disk, a paused VM) or a network that drops packets does: a
// statement sent then got no answer, and waited for as long as the freeze.

const SCHEMA = `query_timeout_${process.pid}`;

let proxy: TcpProxy;
let database: Database;
let migrations: string;

beforeAll(async () => {
  proxy = await TcpProxy.start({ host: "127.0.0.1", port: 5432 });
  database = await openDatabase({ url: proxy.urlTo("postgres://postgres@127.0.0.1/postgres"), max: 2, connectTimeoutSeconds: 5, queryTimeoutSeconds: 1 });
  // One migration that takes longer than the pool's query timeout.
  migrations = mkdtempSync(join(tmpdir(), "query-timeout-"));
  mkdirSync(join(migrations, "meta"));
  writeFileSync(join(migrations, "0000_slow.sql"), "SELECT pg_sleep(1.5);");
  writeFileSync(
    join(migrations, "meta", "_journal.json"),
    JSON.stringify({ version: "7", dialect: "postgresql", entries: [{ idx: 0, version: "7", when: 1, tag: "0000_slow", breakpoints: true }] }),
  );
});

afterAll(async () => {
  proxy.freeze(false);
  await database?.db.execute(sql.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
  await database?.close();
  rmSync(migrations, { recursive: true, force: true });
  await proxy.close();
});

describe("a Postgres that stops answering", () => {
  it("fails a statement past the query timeout as the database unreachable, and the pool serves again once Postgres answers", async () => {
    proxy.freeze(true);
    const failed = await database.db.execute(sql`SELECT 1 AS one`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(Error);
    expect(databaseUnreachable(failed)).toBe(true);
    proxy.freeze(false);
    expect(rowsOf(await database.db.execute(sql`SELECT 1 AS one`))).toEqual([{ one: 1 }]);
  }, 30_000);

  it("lets a migration run longer than the query timeout", async () => {
    await database.migrate(migrations, SCHEMA);
    const applied = rowsOf<{ n: number }>(await database.db.execute(sql.raw(`SELECT count(*)::int AS n FROM ${SCHEMA}.migrations`)));
    expect(applied).toEqual([{ n: 1 }]);
  }, 30_000);
});
