import { ConnectError } from "@connectrpc/connect";
import { MemoryBus, openDatabase, type Database } from "@gateway/common";
import { TcpProxy, type TestDatabase } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKeys } from "../src/index.js";
import { asMaster, clientOf, config, keysPostgres, logger, type Keys } from "./support.js";

// /user/new with teams: the keys service's connections to the real Postgres
// pass through a proxy that, when armed, cuts the connection that is about
// to change a team's members, as a network blip or a failover can.

let testDatabase: TestDatabase;
let database: Database;
let keys: Keys;
let proxy: TcpProxy;
let armed = false;

beforeAll(async () => {
  testDatabase = await keysPostgres();
  const url = new URL(testDatabase.url);
  proxy = await TcpProxy.start(
    { host: url.hostname, port: Number(url.port || 5432) },
    {
      fromClient: (bytes, connection) => {
        if (armed && bytes.includes('update "keys"."teams" set')) {
          armed = false;
          return connection.cut();
        }
        connection.target.write(bytes);
      },
    },
  );
  database = await openDatabase({ url: proxy.urlTo(testDatabase.url), connectTimeoutSeconds: 5 });
  keys = await startKeys({ config, database, bus: new MemoryBus(), logger });
});
afterAll(async () => {
  await keys?.stop();
  await database?.close();
  await proxy?.close();
  await testDatabase?.drop();
});

describe("/user/new into a team whose connection is cut before the team has the member", () => {
  it("makes nothing, so the call tried again makes the user, its key and the membership", async () => {
    const client = clientOf(keys);
    await client.createTeam({ teamId: "cut-team" }, asMaster);
    armed = true;
    const failed = await client.createUser({ userId: "cut-user", teams: ["cut-team"], createKey: true }, asMaster).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(armed).toBe(false);
    // (Unavailable through the gateway's interceptors, which this transport has not.)
    expect(failed).toBeInstanceOf(ConnectError);
    const made = await client.createUser({ userId: "cut-user", teams: ["cut-team"], createKey: true }, asMaster);
    expect(made.key).toMatch(/^sk-/);
    const { team } = await client.getTeam({ teamId: "cut-team" }, asMaster);
    expect((JSON.parse(team!.membersWithRolesJson) as { user_id: string }[]).map((m) => m.user_id)).toEqual(["cut-user"]);
  });
});
