import { createTestBus, createTestDatabase, type TestBus, type TestDatabase } from "@gateway/testing";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../src/index.js";
import { admin } from "./support/admin.js";
import { MASTER_KEY, writeConfig } from "./support/config.js";
import { gatewayOptions } from "./support/gateway.js";

// general_settings.database_connection_pool_limit bounds the connections one
// process holds to Postgres, however many management calls it serves at once.

const POOL = 2;

describe("general_settings.database_connection_pool_limit", () => {
  let database: TestDatabase;
  let bus: TestBus;
  let gateway: RunningGateway;
  let observer: postgres.Sql;

  beforeAll(async () => {
    database = await createTestDatabase();
    bus = await createTestBus();
    const config = writeConfig(`
model_list: []
general_settings:
  master_key: ${MASTER_KEY}
  database_connection_pool_limit: ${POOL}
`);
    gateway = await startGateway(gatewayOptions("all", config, { databaseUrl: database.url, nats: bus }));
    observer = postgres(database.url, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await observer?.end();
    await gateway?.close();
    await bus?.close();
    await database?.drop();
  });

  it(`holds at most ${POOL} connections while 40 keys are made at once, and makes them all`, async () => {
    const baseUrl = `http://127.0.0.1:${gateway.port}`;
    const name = new URL(database.url).pathname.slice(1);
    let most = 0;
    let done = false;
    const watching = (async () => {
      while (!done) {
        // The observer's own connection is not the gateway's.
        const [row] = await observer<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ${name} AND pid <> pg_backend_pid()`;
        most = Math.max(most, row!.n);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => admin(baseUrl, "POST", "/key/generate", { key_alias: `pool-${i}` })));
    done = true;
    await watching;
    expect(made.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(POOL);
  });
});
