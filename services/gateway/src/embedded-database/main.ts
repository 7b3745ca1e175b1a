// The embedded database's own process (started by ./start.ts): PGlite on
// `argv[2]`, or in memory without it, served over the Postgres wire protocol
// on a unix socket in a private temporary directory. It tells the gateway the
// socket's path once it answers, and closes PGlite cleanly on SIGTERM or when
// the gateway goes away.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createLogger, openPglite } from "@gateway/common";
import type { ReadyMessage } from "./start.js";

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
  console.error(err);
  process.exit(1);
}

const dataDir = process.argv[2];
const opened = open(dataDir);
let stopping = false;

function stop(reason: string): void {
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
}

process.on("SIGTERM", () => stop("SIGTERM"));
// The gateway exited, however it ended (even SIGKILL): no orphan is left behind.
process.on("disconnect", () => stop("the gateway went away"));

opened.then(({ socketPath }) => {
  logger.info({ dataDir: dataDir ?? "in memory", socketPath }, "embedded database ready");
  const ready: ReadyMessage = { socketPath };
  if (process.send && process.connected) process.send(ready);
}, fail);
