import { join } from "node:path";
import { driverMessage, MemoryBus, NatsBus, openDatabase, pgErrorCode, type Bus, type Database, type Logger } from "@gateway/common";
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

export async function openBus(options: GatewayOptions): Promise<Bus> {
  if (options.natsUrl) {
    try {
      return await NatsBus.connect({
        url: options.natsUrl,
        ...(options.natsStream && { stream: options.natsStream }),
        ...(options.natsPrefix && { prefix: options.natsPrefix }),
      });
    } catch (err) {
      throw new StartupError(`cannot use NATS JetStream at ${hostsOf(options.natsUrl)} (NATS_URL): ${(err as Error).message}`);
    }
  }
  if (options.service !== "all") {
    throw new UsageError(`NATS_URL must be set when running the ${options.service} service on its own`);
  }
  return new MemoryBus();
}

/** The services' database, and whether it is still there (the embedded one can die under the gateway). */
export async function openGatewayDatabase(options: GatewayOptions, logger: Logger): Promise<{ database: Database; alive: () => boolean }> {
  if (options.databaseUrl) {
    let database: Database | undefined;
    // Asked once here, so that a wrong URL fails the start with its own
    // message rather than the first migration's (or, for a URL that does not
    // parse, an error that quotes it, password and all).
    try {
      database = await openDatabase({ url: options.databaseUrl });
      await database.db.execute("SELECT 1");
    } catch (err) {
      await database?.close();
      const refused = REFUSED_BY_POSTGRES.has(pgErrorCode(err) ?? "");
      throw new StartupError(`cannot ${refused ? "use" : "reach"} Postgres at ${hostsOf(options.databaseUrl)} (${options.databaseUrlSetting ?? "DATABASE_URL"}): ${driverMessage(err)}`, refused);
    }
    return { database, alive: () => true };
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
