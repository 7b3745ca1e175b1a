import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import type { MigrationConfig } from "drizzle-orm/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export type Db = PgDatabase<PgQueryResultHKT>;

/** A database a service owns tables in: real Postgres, or embedded PGlite. */
export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** Applies a service's committed drizzle migrations, tracked in that service's own schema. */
  migrate(migrationsFolder: string, schema: string): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; when absent, an embedded PGlite is used. */
  url?: string | undefined;
  /** Where PGlite keeps its files; absent means in memory. */
  dataDir?: string | undefined;
  /** Connections in the postgres.js pool. */
  max?: number;
}

function migrationConfig(migrationsFolder: string, schema: string): MigrationConfig {
  return { migrationsFolder, migrationsSchema: schema, migrationsTable: "migrations" };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const url = options.url;
  if (url) {
    const sql = postgres(url, { max: options.max ?? 10, onnotice: () => {} });
    const db = drizzlePostgres(sql);
    return {
      db,
      kind: "postgres",
      async migrate(folder, schema) {
        // Replicas starting together must not run the same migration twice;
        // the lock lives on a connection of its own, whatever the pool's size.
        const lock = postgres(url, { max: 1, onnotice: () => {} });
        try {
          await lock`SELECT pg_advisory_lock(hashtext(${`migrate:${schema}`}))`;
          await migratePostgres(db, migrationConfig(folder, schema));
        } finally {
          await lock.end({ timeout: 5 });
        }
      },
      close: () => sql.end({ timeout: 5 }),
    };
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  // Embedded Postgres for one-process homelab installs: small buffers keep
  // its memory down (the defaults are sized for a server).
  const client = new PGlite({ ...(options.dataDir && { dataDir: options.dataDir }), postgresqlconf: ["shared_buffers=16MB", "wal_buffers=1MB"] });
  const db = drizzlePglite(client);
  // Migrations from several services must not interleave on the one PGlite connection.
  let migrations = Promise.resolve();
  return {
    db,
    kind: "pglite",
    migrate: (folder, schema) => (migrations = migrations.then(() => migratePglite(db, migrationConfig(folder, schema)))),
    close: () => client.close(),
  };
}

/** The Postgres error code (e.g. "23505") behind a driver or drizzle error, if any. */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error || (e !== null && typeof e === "object"); e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    if ((e as { cause?: unknown }).cause === undefined) break;
  }
  return undefined;
}
