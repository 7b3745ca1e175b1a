import { TcpProxy, eventually } from "@gateway/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseProbe, type DatabaseState } from "../src/database-probe.js";
import { openDatabase, type Database } from "../src/database.js";

// The pool's connections to the real Postgres pass through a proxy that can
// stop passing bytes on without closing anything, as a Postgres that froze
// does: the probe's statement then gets no answer at all (the pool has no
// query timeout here), and the probe must still say so.

let proxy: TcpProxy;
let database: Database;

beforeAll(async () => {
  proxy = await TcpProxy.start({ host: "127.0.0.1", port: 5432 });
  database = await openDatabase({ url: proxy.urlTo("postgres://postgres@127.0.0.1/postgres"), max: 2, connectTimeoutSeconds: 5 });
});

afterAll(async () => {
  proxy.freeze(false);
  await database?.close();
  await proxy.close();
});

describe("a database probe", () => {
  it("says connected, disconnected while Postgres does not answer, and connected again once it does", async () => {
    const probe = new DatabaseProbe(database.db);
    const saying = (state: DatabaseState) => eventually(`the probe to say ${state}`, async () => ((await probe.state()) === state ? true : undefined));
    expect(await probe.state()).toBe("connected");
    proxy.freeze(true);
    await saying("disconnected");
    proxy.freeze(false);
    await saying("connected");
  }, 30_000);
});
