import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, rowsOf, type Database } from "../src/database.js";

// A pool's connections to the real Postgres pass through a proxy here that
// can cut them, as a Postgres restart does, and cuts every connection that
// asks for the server's array types once the test says so.

const POSTGRES = { host: "127.0.0.1", port: 5432 };

let proxy: Server;
const open = new Set<Socket>();
const asked: boolean[] = [];
let cutTypeQueries = false;

beforeAll(async () => {
  proxy = createServer((client) => {
    const server = connect(POSTGRES);
    const pair = [client, server];
    for (const s of pair) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => pair.forEach((x) => (open.delete(x), x.destroy())));
    }
    const connection = asked.push(false) - 1;
    client.on("data", (bytes: Buffer) => {
      if (!bytes.includes("pg_catalog.pg_type")) return void server.write(bytes);
      asked[connection] = true;
      if (cutTypeQueries) pair.forEach((s) => s.destroy());
      else server.write(bytes);
    });
    server.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});
afterAll(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

describe("a Postgres pool whose connections are cut", () => {
  let database: Database;
  const unhandled: unknown[] = [];
  const collect = (err: unknown) => unhandled.push(err);

  afterAll(async () => {
    process.off("unhandledRejection", collect);
    await database?.close();
  });

  it("asks for the server's array types once, so a reconnect cut while it would ask stops nothing", async () => {
    const port = (proxy.address() as { port: number }).port;
    database = await openDatabase({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, max: 2 });
    expect(asked).toEqual([true]);
    process.on("unhandledRejection", collect);
    cutTypeQueries = true;
    for (let round = 0; round < 3; round++) {
      for (const s of open) s.destroy();
      // The first statement after a cut may meet the closed connection; the pool opens a new one.
      const rows = await database.db.execute("SELECT 1 AS one").catch(() => database.db.execute("SELECT 1 AS one"));
      expect(rowsOf(rows)).toEqual([{ one: 1 }]);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(unhandled).toEqual([]);
    expect(asked.length).toBeGreaterThan(1);
    expect(asked.slice(1)).not.toContain(true);
  });
});
