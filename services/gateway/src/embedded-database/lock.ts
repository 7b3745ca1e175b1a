import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Another process holds the lock: its message says which and what to do. */
export class DirectoryInUse extends Error {
  override name = "DirectoryInUse";
}

// A gateway restarted at once finds its killed predecessor's database
// still closing (it exits once it notices the gateway has gone): that
// predecessor is waited for this long.
const WAIT_FOR_HOLDER_MS = 5_000;
const POLL_MS = 100;

/**
 * Takes the lock file at `path` for this process and returns what gives it
 * back. PGlite does not keep two processes off one data directory, and two
 * Postgres instances writing one directory corrupt it (a second `npm start`
 * on the same data would run crash recovery under the first). The file
 * names its holder by pid and start time, so a holder that died (killed,
 * the machine restarted, another container with the same pid) does not
 * keep the directory locked.
 */
export async function acquireLock(path: string, dataDir: string): Promise<() => void> {
  const self = holderOf(process.pid);
  const deadline = Date.now() + WAIT_FOR_HOLDER_MS;
  for (;;) {
    try {
      writeFileSync(path, self, { flag: "wx" });
      return () => {
        if (read(path) === self) rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = read(path);
    if (holder === undefined || !alive(holder)) {
      rmSync(path, { force: true });
    } else if (Date.now() < deadline) {
      await sleep(POLL_MS);
    } else {
      throw new DirectoryInUse(
        `the embedded database's directory ${dataDir} is in use by another process (pid ${holder.split(" ")[0]}: the database of another gateway on the same GATEWAY_DATA_DIR): stop that gateway first, or set GATEWAY_DATA_DIR to another directory`,
      );
    }
  }
}

/** "<pid> <start time>"; the start time is empty where /proc does not tell it. */
function holderOf(pid: number): string {
  return `${pid} ${startTime(pid)}`;
}

function alive(holder: string): boolean {
  const [pidText, started] = holder.split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  // A pid alone can be a new process's since: the start time tells them apart.
  return !started || started === startTime(pid);
}

/** When the process started, in clock ticks since boot (field 22 of /proc/<pid>/stat); "" without /proc. */
function startTime(pid: number): string {
  // The command name, in parentheses, may hold spaces: count the fields after it.
  return read(`/proc/${pid}/stat`)?.split(") ")[1]?.split(" ")[19] ?? "";
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
