// The embedded database's own process (started by ./start.ts): PGlite on
// `argv[2]`, or in memory without it, served over the Postgres wire protocol
// on a unix socket in a private temporary directory. It tells the gateway the
// socket's path once it answers, and closes PGlite cleanly on SIGTERM or when
// the gateway goes away. With CREATE_ONLY after the directory, it creates the
// database there and exits instead. Either way it holds the directory's lock
// (./lock.ts) for as long as it runs.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
// Not the package's index: that loads the metrics, the bus and the rest,
// which this process does not use and would carry in memory and timers.
import { createLogger } from "@gateway/common/logger";
import { openPglite } from "@gateway/common/pglite";
import { acquireLock, DirectoryInUse } from "./lock.js";
import { CREATE_ONLY, creatingMarker, directoryLock, type ReadyMessage } from "./start.js";

const logger = createLogger("embedded-database");

async function open(dataDir: string | undefined) {
  const pglite = await openPglite(dataDir);
  // PGlite has no authentication: a directory only this user can enter (mkdtemp
  // makes it 0700) keeps other local users off the ledger.
  const socketDir = mkdtempSync(join(tmpdir(), "gateway-pglite-"));
  const socketPath = join(socketDir, "pglite.sock");
  // PGlite is one session: a second connection is turned away, never queued.
  const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 1 });
  try {
    await server.start();
  } catch (err) {
    rmSync(socketDir, { recursive: true, force: true });
    await pglite.close();
    throw err;
  }
  return { pglite, server, socketDir, socketPath };
}

function fail(err: unknown): never {
  // stderr, where the gateway reads why its database did not start.
  if (err instanceof DirectoryInUse) console.error(err.message);
  else console.error(err);
  process.exit(1);
}

const dataDir = process.argv[2];
// The gateway went away (however it ended, even SIGKILL): while this child
// waits for the directory's lock or creates the database, nobody waits for
// it any more (the next start empties what a creation left). Serving, it
// stops cleanly instead (serve()).
const leave = () => process.exit(1);
process.on("disconnect", leave);
// Gone already, while this module loaded: that event has passed.
if (process.send !== undefined && !process.connected) leave();
if (!dataDir) serve(undefined);
else lockDirectory(dataDir).then(() => (process.argv[3] === CREATE_ONLY ? create(dataDir) : serve(dataDir)), fail);

/** Keeps every other process off the directory until this one exits, however it exits but SIGKILL. */
async function lockDirectory(dataDir: string): Promise<void> {
  mkdirSync(dirname(dataDir), { recursive: true });
  const release = await acquireLock(directoryLock(dataDir), dataDir);
  process.on("exit", release);
}

function create(dataDir: string): void {
  const marker = creatingMarker(dataDir);
  if (existsSync(marker)) {
    logger.warn({ dataDir }, "an earlier start stopped while creating the embedded database; creating it anew");
    if (existsSync(dataDir)) for (const name of readdirSync(dataDir)) rmSync(join(dataDir, name), { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(marker, "");
  openPglite(dataDir)
    .then((pglite) => pglite.close())
    .then(() => {
      rmSync(marker);
      logger.info({ dataDir }, "embedded database created");
      process.exit(0);
    }, fail);
}

function serve(dataDir: string | undefined): void {
  const opened = open(dataDir);
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "embedded database stopping");
    opened
      .then(async ({ pglite, server, socketDir }) => {
        await server.stop();
        await pglite.close();
        rmSync(socketDir, { recursive: true, force: true });
      })
      .then(() => process.exit(0), fail);
  };

  process.on("SIGTERM", () => stop("SIGTERM"));
  // No orphan is left behind.
  process.off("disconnect", leave);
  process.on("disconnect", () => stop("the gateway went away"));

  opened.then(({ socketPath }) => {
    logger.info({ dataDir: dataDir ?? "in memory", socketPath }, "embedded database ready");
    const ready: ReadyMessage = { socketPath };
    if (process.send && process.connected) process.send(ready);
  }, fail);
}
