import { describe, expect, it } from "vitest";
import { databaseUnreachable, openDatabase } from "../src/database.js";

describe("a Postgres URL", () => {
  it("whose host does not parse fails at once, as a URL to change rather than a server to wait for, without quoting the URL", async () => {
    for (const url of ["postgres://gateway:db-password-123@no such host/ledger", "postgres://gateway:db-password-123@127.0.0.1:5432,no such host:5432/ledger", "not a url", "notaurl", "localhost:5432/gateway"]) {
      const err = await openDatabase({ url, connectTimeoutSeconds: 2 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TypeError);
      expect((err as { code?: string }).code).toBe("ERR_INVALID_URL");
      expect(databaseUnreachable(err)).toBe(false);
      expect((err as Error).message).not.toContain("db-password-123");
    }
  });

  it("listing several hosts, the first one answering, opens", async () => {
    const database = await openDatabase({ url: "postgres://postgres@127.0.0.1:5432,127.0.0.1:1/postgres", max: 1, connectTimeoutSeconds: 5 });
    try {
      expect(await database.db.execute("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
    }
  });
});
