import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type Server, type Socket } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUnreachable, openDatabase, rowsOf, type Database } from "../src/database.js";

// The pool's connections to the real Postgres pass through a proxy that can
// stop passing bytes on without closing anything, as a Postgres that froze
// (a stalled disk, a paused VM) or a network that drops packets does: a
// statement sent then got no answer, and waited for as long as the freeze.

const POSTGRES = { host: "127.0.0.1", port: 5432 };
const SCHEMA = `query_timeout_${process.pid}`;

let proxy: Server;
const open = new Set<Socket>();
let frozen = false;

function freeze(on: boolean): void {
  frozen = on;
  for (const s of open) on ? s.pause() : s.resume();
}

let database: Database;
let migrations: string;

beforeAll(async () => {
  proxy = createServer((client) => {
    const server = connect(POSTGRES);
    const pair = [client, server];
    for (const s of pair) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => pair.forEach((x) => (open.delete(x), x.destroy())));
      if (frozen) s.pause();
    }
    client.pipe(server);
    server.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const port = (proxy.address() as { port: number }).port;
  database = await openDatabase({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, max: 2, connectTimeoutSeconds: 5, queryTimeoutSeconds: 1 });
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
  freeze(false);
  await database?.db.execute(sql.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
  await database?.close();
  rmSync(migrations, { recursive: true, force: true });
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

describe("a Postgres that stops answering", () => {
  it("fails a statement past the query timeout as the database unreachable, and the pool serves again once Postgres answers", async () => {
    freeze(true);
    const failed = await database.db.execute(sql`SELECT 1 AS one`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failed).toBeInstanceOf(Error);
    expect(databaseUnreachable(failed)).toBe(true);
    freeze(false);
    expect(rowsOf(await database.db.execute(sql`SELECT 1 AS one`))).toEqual([{ one: 1 }]);
  }, 30_000);

  it("lets a migration run longer than the query timeout", async () => {
    await database.migrate(migrations, SCHEMA);
    const applied = rowsOf<{ n: number }>(await database.db.execute(sql.raw(`SELECT count(*)::int AS n FROM ${SCHEMA}.migrations`)));
    expect(applied).toEqual([{ n: 1 }]);
  }, 30_000);
});
