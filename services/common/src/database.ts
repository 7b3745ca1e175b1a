import type { MigrationConfig } from "drizzle-orm/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { openPglite } from "./pglite.js";

export type Db = PgDatabase<PgQueryResultHKT>;

/**
 * A database a service owns tables in: a Postgres server ("postgres"), the
 * gateway's own PGlite in its child process, reached over its socket
 * ("embedded"), or PGlite inside this process ("in-process", for tests).
 */
export interface Database {
  db: Db;
  kind: "postgres" | "embedded" | "in-process";
  /** Applies a service's committed drizzle migrations, tracked in that service's own schema. */
  migrate(migrationsFolder: string, schema: string): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL of a Postgres server. */
  url?: string | undefined;
  /**
   * Unix socket of the gateway's embedded PGlite (a child process). PGlite
   * serves a single connection and this process is its only client.
   */
  embeddedSocket?: string | undefined;
  /** Neither of those: PGlite in this process, keeping its files here, or in memory when absent. */
  dataDir?: string | undefined;
  /** Connections in the postgres.js pool (Postgres servers only). */
  max?: number;
  /** Seconds a new connection may take to open (Postgres servers only; default 30). */
  connectTimeoutSeconds?: number;
  /**
   * Seconds a statement may wait for a connection and run before it is
   * canceled and fails (Postgres servers only; 0 or absent: no limit).
   * Migrations are not limited.
   */
  queryTimeoutSeconds?: number;
}

/**
 * How long a pool connection waits before it connects again after failing
 * to, in seconds (postgres.js's `backoff`). postgres.js grows this with every
 * failure in a row up to 20 s, and a query handed to a connection waits out
 * its delay: after a 10 s outage, calls waited up to 20 s for a Postgres
 * that was back, and while it was down they waited rather than failed. At
 * most a second (jittered, as postgres.js's own) keeps both short.
 */
function reconnectDelaySeconds(failures: number): number {
  return (0.5 + Math.random() / 2) * Math.min(3 ** failures / 100, 1);
}

function migrationConfig(migrationsFolder: string, schema: string): MigrationConfig {
  return { migrationsFolder, migrationsSchema: schema, migrationsTable: "migrations" };
}

/**
 * Throws Node's "Invalid URL" TypeError, which does not quote the URL, when
 * one of a postgres:// URL's hosts (it may list several, comma-separated)
 * does not parse as a URL's host. postgres.js 4 reads the host part as it
 * is, so a host such as "no such host" was looked up and not found, again
 * and again for as long as a start waits for Postgres; 3 threw at once. A
 * URL without "://" throws the same.
 */
function checkHosts(url: string): void {
  // Without "://" postgres.js takes all but the first two characters for the
  // host ("localhost:5432/gateway" looks up "calhost"), so a start would wait
  // for a server that cannot answer.
  const scheme = url.indexOf("://");
  if (scheme === -1) throw Object.assign(new TypeError("Invalid URL"), { code: "ERR_INVALID_URL" });
  const rest = url.slice(scheme + 3);
  const end = rest.search(/[/?]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  for (const host of authority.slice(authority.lastIndexOf("@") + 1).split(",")) new URL(`postgres://${host}/`);
}

/**
 * A postgres.js pool that has connected once: throws, with the pool closed,
 * when that first connection fails. (postgres.js 3 had each new connection
 * ask the server for its array types in a query whose failure nothing
 * caught, so this also turned that lookup off after the first connection;
 * postgres.js 4 looks types up only when a statement meets one it does not
 * know, and a lookup that fails is tried again and then fails the
 * statements that waited for it.)
 */
async function connectedPool(url: string, options: DatabaseOptions): Promise<postgres.Sql> {
  checkHosts(url);
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 30,
    query_timeout: options.queryTimeoutSeconds ?? 0,
    backoff: reconnectDelaySeconds,
    onnotice: () => {},
  });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    await sql.end({ timeout: 5 });
    throw err;
  }
  return sql;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const { url, embeddedSocket } = options;
  if (url) {
    const sql = await connectedPool(url, options);
    const db = drizzlePostgres(sql);
    return {
      db,
      kind: "postgres",
      async migrate(folder, schema) {
        // Replicas starting together must not run the same migration twice.
        // The lock lives on a connection of its own, whatever the pool's size,
        // and the migration runs there too, without the pool's query timeout:
        // building an index over a large ledger may take longer.
        const lock = postgres(url, { max: 1, onnotice: () => {} });
        try {
          await lock`SELECT pg_advisory_lock(hashtext(${`migrate:${schema}`}))`;
          await migratePostgres(drizzlePostgres(lock), migrationConfig(folder, schema));
        } finally {
          await lock.end({ timeout: 5 });
        }
      },
      close: () => sql.end({ timeout: 5 }),
    };
  }
  if (embeddedSocket) {
    // One connection, kept for good (PGlite refuses a second, so nothing may
    // recycle it), and no migration lock: no other process migrates it.
    const sql = postgres({ path: embeddedSocket, user: "postgres", database: "postgres", ssl: false, max: 1, max_lifetime: null, onnotice: () => {} });
    const db = drizzlePostgres(sql);
    return {
      db,
      kind: "embedded",
      migrate: (folder, schema) => migratePostgres(db, migrationConfig(folder, schema)),
      close: () => sql.end({ timeout: 5 }),
    };
  }
  // PGlite's drizzle driver loads only here (tests): the gateway never needs it.
  const [client, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    openPglite(options.dataDir),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  const db = drizzlePglite(client);
  // Migrations from several services must not interleave on the one PGlite connection.
  let migrations = Promise.resolve();
  return {
    db,
    kind: "in-process",
    migrate: (folder, schema) => (migrations = migrations.then(() => migratePglite(db, migrationConfig(folder, schema)))),
    close: () => client.close(),
  };
}

/**
 * What the driver said, under drizzle's wrapping: drizzle's own message
 * repeats the statement and its parameters, which have no place in a log line.
 */
export function driverMessage(err: unknown): string {
  let cause = err;
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}

// A SQLSTATE: its class (two characters) and its condition; Node's own codes
// of five letters (EPERM, EBUSY) are none.
const SQLSTATE = /^([0-5][0-9A-Z]|F0|HV|P0|XX)[0-9A-Z]{3}$/;

/** The Postgres error code (e.g. "23505") behind a driver or drizzle error, if any. */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error || (e !== null && typeof e === "object"); e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && SQLSTATE.test(code)) return code;
    if ((e as { cause?: unknown }).cause === undefined) break;
  }
  return undefined;
}

// What postgres.js and Node report when no connection to Postgres could be
// had or kept, and Postgres's own connection-exception and shutdown states.
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  // A statement past the pool's query_timeout: mostly a server that stopped answering.
  "QUERY_TIMEOUT",
]);
const SHUTTING_DOWN = new Set(["57P01", "57P02", "57P03"]);

/** Whether a driver or drizzle error says the database could not be reached (down, restarting), not that it refused the statement. */
export function databaseUnreachable(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== null && typeof e === "object" && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (UNREACHABLE.has(code) || SHUTTING_DOWN.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  }
  return false;
}

/** postgres.js returns the rows as the result; PGlite wraps them in { rows }. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
