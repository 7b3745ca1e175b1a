import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { databaseUnreachable, driverMessage, MemoryBus, NatsBus, openDatabase, pgErrorCode, type Bus, type Database, type DatabaseOptions, type Logger } from "@gateway/common";
import { startEmbeddedDatabase, UnusableDataDirectory } from "./embedded-database/start.js";
import { UsageError, type GatewayOptions } from "./options.js";

/** Postgres, NATS or the embedded database cannot be used as configured: one line saying why, for the log of a start that failed. */
export class StartupError extends Error {
  override name = "StartupError";

  /** `toChange`: a restart will not help (exit 2, not 1): the operator has something to change first. */
  constructor(
    message: string,
    readonly toChange = false,
  ) {
    super(message);
  }
}

// Postgres answered and refused: no such database, user or password. Waiting will not change that.
const REFUSED_BY_POSTGRES = new Set(["3D000", "28000", "28P01"]);

export async function openBus(options: GatewayOptions, logger: Logger): Promise<Bus> {
  const { natsUrl } = options;
  if (natsUrl) {
    const where = `NATS JetStream at ${hostsOf(natsUrl)} (NATS_URL)`;
    return untilReachable(where, options.startWaitMs, logger, async () => {
      try {
        return await NatsBus.connect({
          url: natsUrl,
          ...(options.natsStream && { stream: options.natsStream }),
          ...(options.natsPrefix && { prefix: options.natsPrefix }),
        });
      } catch (err) {
        // NATS refused the credentials: waiting will not change that. Anything
        // else (not up yet, JetStream still starting) may pass.
        const refused = /authorization violation|authentication/i.test(String((err as Error).message));
        throw new StartupError(`cannot use ${where}: ${(err as Error).message}`, refused);
      }
    });
  }
  if (options.service !== "all") {
    throw new UsageError(`NATS_URL must be set when running the ${options.service} service on its own`);
  }
  return new MemoryBus();
}

/**
 * The services' database, and whether it is still there (the embedded one
 * can die under the gateway); `pool` sizes and times the connections to a
 * Postgres server (general_settings.database_connection_pool_limit and
 * database_connection_timeout).
 */
export async function openGatewayDatabase(
  options: GatewayOptions,
  logger: Logger,
  pool: Pick<DatabaseOptions, "max" | "connectTimeoutSeconds">,
): Promise<{ database: Database; alive: () => boolean }> {
  const { databaseUrl } = options;
  if (databaseUrl) {
    // A URL without "://" may still parse as one ("localhost:5432/gateway", scheme localhost:), but not as Postgres's.
    const at = databaseUrl.includes("://") ? hostsOf(databaseUrl) : "an address that does not parse as a URL";
    const where = `Postgres at ${at} (${options.databaseUrlSetting ?? "DATABASE_URL"})`;
    const database = await untilReachable(where, options.startWaitMs, logger, async () => {
      // openDatabase connects once, so that a wrong URL fails the start with
      // its own message rather than the first migration's (or, for a URL that
      // does not parse, an error that quotes it, password and all).
      try {
        return await openDatabase({ url: databaseUrl, ...pool, queryTimeoutSeconds: options.databaseQueryTimeoutMs / 1000 });
      } catch (err) {
        const code = pgErrorCode(err);
        // Postgres refused us, or the URL cannot work (does not parse, TLS
        // settings): waiting will not help. Anything else (down, starting,
        // out of connections) may pass.
        const toChange = REFUSED_BY_POSTGRES.has(code ?? "") || (code === undefined && !databaseUnreachable(err));
        throw new StartupError(`cannot ${toChange ? "use" : "reach"} ${where}: ${driverMessage(err)}`, toChange);
      }
    });
    const migrate: Database["migrate"] = (folder, schema) => database.migrate(folder, schema).catch((err: unknown) => migrationBroke(err, schema, where));
    return { database: { ...database, migrate }, alive: () => true };
  }
  if (options.service !== "all") {
    throw new UsageError(`DATABASE_URL must be set when running the ${options.service} service on its own`);
  }
  // PGlite in a child process of its own, so its CPU, memory and batch
  // inserts stay off the gateway's event loop; stopped after the pool closes.
  const embedded = await startEmbeddedDatabase({ dataDir: options.dataDir && join(options.dataDir, "pglite"), logger }).catch((err: unknown) => {
    // Its errors say what went wrong, with the child's stderr; a stack trace of the gateway's adds nothing.
    throw new StartupError((err as Error).message, err instanceof UnusableDataDirectory);
  });
  const database = await openDatabase({ embeddedSocket: embedded.socketPath });
  return { database: { ...database, close: () => database.close().finally(() => embedded.stop()) }, alive: embedded.running };
}

/**
 * A migration's connection that broke (Postgres restarted, failed over, or
 * the network dropped) becomes one line for the start's log instead of the
 * driver's stack trace; any other failure stays as it is.
 */
function migrationBroke(err: unknown, schema: string, where: string): never {
  if (!databaseUnreachable(err)) throw err;
  throw new StartupError(
    `the ${schema} schema's migrations did not finish: the connection to ${where} broke: ${driverMessage(err)}; ` +
      "they run in one transaction (all or none), and the next start runs those not applied",
  );
}

/**
 * Runs `attempt` until it succeeds, it fails with something a restart will
 * not change (`toChange`), or `waitMs` has passed: Postgres and NATS often
 * start alongside the gateway (compose, a Kubernetes rollout), and a start
 * that waits a little saves a restart loop. Each failure is logged, with the
 * time of the next try.
 */
async function untilReachable<T>(where: string, waitMs: number, logger: Logger, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (err) {
      const left = deadline - Date.now();
      if (!(err instanceof StartupError) || err.toChange || left <= 0) throw err;
      const delayMs = Math.min(250 * 2 ** failures, 5_000, left);
      logger.warn({ err: err.message, retryInMs: delayMs, giveUpInMs: left }, `waiting for ${where}`);
      await sleep(delayMs);
    }
  }
}

/** Where a URL (or a comma-separated list of them) points, without the user name and password it may carry. */
function hostsOf(urls: string): string {
  return urls
    .split(",")
    .map((url) => {
      try {
        const { host, pathname } = new URL(url.trim());
        return pathname === "/" ? host : host + pathname;
      } catch {
        return "an address that does not parse as a URL";
      }
    })
    .join(", ");
}
