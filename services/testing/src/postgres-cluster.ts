import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);
const PG_BIN = process.env["PG_BIN"] ?? "/usr/lib/postgresql/15/bin";

export interface ThrowawayPostgres {
  url: string;
  /** Stops the server; "immediate" is a crash as far as Postgres can tell. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  close(): Promise<void>;
}

/**
 * A Postgres cluster of its own (initdb into a temporary directory, on a
 * free loopback port), for tests that stop and restart Postgres without
 * touching the machine's shared server. initdb refuses to run as root, so as
 * root the cluster belongs to the postgres user.
 */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "gateway-pg-"));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dataDir, Number(stdout), Number(gid));
  }
  const pg = (tool: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", join(PG_BIN, tool), ...args]) : run(join(PG_BIN, tool), args));
  await pg("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "--no-sync"]);
  const options = `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=on`;
  const start = async () => {
    await pg("pg_ctl", ["-D", dataDir, "-o", options, "-l", join(dataDir, "server.log"), "-w", "start"]);
  };
  const stop = async (mode: "fast" | "immediate" = "fast") => {
    await pg("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "stop"]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    close: async () => {
      await stop("immediate").catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
