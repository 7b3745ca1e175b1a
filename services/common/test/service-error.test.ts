import { Code } from "@connectrpc/connect";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/database.js";
import { serviceError } from "../src/errors.js";

// A statement Postgres refuses reaches the other services, and their logs,
// as a ConnectError. Drizzle's own message repeats the statement and its
// parameters; Postgres's code and words say what happened, and whether
// trying again may pass.

let database: Database;
beforeAll(async () => {
  database = await openDatabase({ url: "postgres://postgres@127.0.0.1:5432/postgres", max: 1 });
});
afterAll(async () => {
  await database.close();
});

const refusal = (statement: ReturnType<typeof sql>) =>
  database.db.execute(statement).then(
    () => expect.fail("the statement passed"),
    (err: unknown) => serviceError(err, Code.Internal),
  );

describe("a statement Postgres refused, as a service's error", () => {
  it("names Postgres's code and words, not the statement, and stays internal when trying again would not help", async () => {
    const err = await refusal(sql`SELECT 1 / ${0}::int AS ${sql.identifier("a_column_name")}`);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("the database refused a statement (22012: division by zero)");
  });

  it("leaves an error of Node's own (a file system's EPERM) as it was", () => {
    const err = serviceError(Object.assign(new Error("operation not permitted"), { code: "EPERM" }), Code.Internal);
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("operation not permitted");
  });

  it("is unavailable, which clients try again, when Postgres ended the statement for a lock or a timeout", async () => {
    // The pool's one connection runs both.
    await database.db.execute(sql`SET statement_timeout = 10`);
    const err = await refusal(sql`SELECT pg_sleep(1)`);
    await database.db.execute(sql`SET statement_timeout = 0`);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("the database refused a statement (57014: canceling statement due to statement timeout)");
  });
});
