import { sql } from "drizzle-orm";
import { TcpProxy } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, rowsOf, type Database } from "../src/database.js";

// A pool's connections to the real Postgres pass through a proxy here that
// can cut them, as a Postgres restart does, and cuts every connection that
// asks for the server's types (postgres.js looks them up when a statement
// meets a type it does not know) while the test says so.

let proxy: TcpProxy;
let typeQueries = 0;
let cutTypeQueries = false;

beforeAll(async () => {
  proxy = await TcpProxy.start(
    { host: "127.0.0.1", port: 5432 },
    {
      fromClient: (bytes, connection) => {
        if (!bytes.includes("pg_catalog.pg_type")) return void connection.target.write(bytes);
        typeQueries++;
        if (cutTypeQueries) connection.cut();
        else connection.target.write(bytes);
      },
    },
  );
});
afterAll(() => proxy.close());

describe("a Postgres pool whose connections are cut", () => {
  let database: Database;
  const unhandled: unknown[] = [];
  const collect = (err: unknown) => unhandled.push(err);

  beforeAll(async () => {
    database = await openDatabase({ url: proxy.urlTo("postgres://postgres@127.0.0.1/postgres"), max: 2, connectTimeoutSeconds: 2 });
    process.on("unhandledRejection", collect);
    process.on("uncaughtException", collect);
  });
  afterAll(async () => {
    process.off("unhandledRejection", collect);
    process.off("uncaughtException", collect);
    await database?.close();
  });

  it("opens new connections after cuts, and a reconnect stops nothing", async () => {
    for (let round = 0; round < 3; round++) {
      proxy.cut();
      // The first statement after a cut may meet the closed connection; the pool opens a new one.
      const rows = await database.db.execute("SELECT 1 AS one").catch(() => database.db.execute("SELECT 1 AS one"));
      expect(rowsOf(rows)).toEqual([{ one: 1 }]);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(unhandled).toEqual([]);
    // Nothing here needed a type the driver does not know.
    expect(typeQueries).toBe(0);
  });

  it("fails a statement whose type lookup is cut, stops nothing, and looks the type up once Postgres answers", async () => {
    // An array of a domain of its own is a type postgres.js must look up.
    const schema = `reconnect_test_${process.pid}_${Date.now()}`;
    await database.db.execute(sql.raw(`CREATE SCHEMA ${schema}; CREATE DOMAIN ${schema}.seven AS int`));
    try {
      const select = () => database.db.execute(sql.raw(`SELECT ARRAY[7]::${schema}.seven[] AS v`));
      cutTypeQueries = true;
      await expect(select()).rejects.toThrow();
      expect(typeQueries).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
      cutTypeQueries = false;
      expect(rowsOf(await select())).toEqual([{ v: [7] }]);
      expect(unhandled).toEqual([]);
    } finally {
      cutTypeQueries = false;
      await database.db.execute(sql.raw(`DROP SCHEMA ${schema} CASCADE`));
    }
  });
});
