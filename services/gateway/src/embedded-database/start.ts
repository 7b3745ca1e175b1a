import { fork, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { getPriority, setPriority } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Logger } from "@gateway/common";

/** The argument after the data directory that has ./main.ts create the database and exit. */
export const CREATE_ONLY = "--create-only";

/** What ./main.ts sends once PGlite answers on its socket. */
export interface ReadyMessage {
  socketPath: string;
}

export interface EmbeddedDatabase {
  /** The unix socket PGlite answers on, one connection at a time. */
  socketPath: string;
  /** False once the child has exited without being asked to: the gateway is then not ready. */
  running(): boolean;
  /** SIGTERM, then waits for PGlite to close; rejects when it did not close cleanly. */
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** PGlite's directory; absent means in memory. */
  dataDir: string | undefined;
  logger: Logger;
  /** How long PGlite may take to open. */
  readyTimeoutMs?: number;
}

// Generous: a first start creates the database, which takes tens of seconds on a small machine.
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 15_000;
const STDERR_TAIL_CHARS = 4000;
// How much nicer than the gateway the child runs: on a machine whose cores
// are all busy, a request's next step runs before a ledger batch (which
// waits 25 ms for more rows anyway) instead of being pushed aside by it.
const NICER_BY = 10;
const NICEST = 19;
// What the child may see of the gateway's environment: provider keys and the master key stay here.
const CHILD_ENV = ["PATH", "HOME", "TMPDIR", "LANG", "TZ", "NODE_ENV", "NODE_OPTIONS", "LOG_LEVEL"];

/**
 * Starts PGlite in a child process and resolves once it answers on its
 * socket, so PGlite's CPU, memory and event loop stay out of the gateway's.
 * The child exits when the gateway does, however the gateway ends.
 */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const entry = childEntry();
  const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  if (options.dataDir && needsCreating(options.dataDir)) await createDatabase(entry, options.dataDir, timeoutMs, options.logger);
  const child = forkChild(entry, options.dataDir ? [options.dataDir] : [], options.logger);
  const socketPath = await outcome(
    child,
    entry,
    timeoutMs,
    "start",
    () =>
      new Promise<string>((resolve, reject) => {
        child.process.once("message", (message: Partial<ReadyMessage>) => {
          if (typeof message.socketPath === "string") resolve(message.socketPath);
          else reject(new Error(`sent ${JSON.stringify(message)} instead of its socket`));
        });
        void child.exited.then((how) => reject(new Error(`exited (${how}) before it was ready`)));
      }),
  );

  child.passStderrOn();
  let stopping = false;
  let running = true;
  void child.exited.then((how) => {
    running = false;
    // A child that stops removes its socket's directory itself; one that was killed cannot.
    rmSync(dirname(socketPath), { recursive: true, force: true });
    if (!stopping) options.logger.error({ exit: how }, "the embedded database exited on its own; the gateway reports itself not ready and has no database until it restarts");
  });
  return {
    socketPath,
    running: () => running,
    async stop() {
      stopping = true;
      child.process.kill("SIGTERM");
      const timer = setTimeout(() => child.process.kill("SIGKILL"), STOP_TIMEOUT_MS);
      const how = await child.exited;
      clearTimeout(timer);
      if (how !== "code 0") throw new Error(`the embedded database did not stop cleanly (${how})`);
    },
  };
}

/** The data directory holds something the gateway will not touch: the operator has to move it. */
export class UnusableDataDirectory extends Error {
  override name = "UnusableDataDirectory";
}

/**
 * Creating a database takes PGlite's memory to several times what serving
 * one needs (about 700 MB against 200 here), and WebAssembly memory is never
 * given back: a child of its own creates it and exits, and the child that
 * serves opens what it left. A marker beside `dataDir` stands while the
 * child creates, so a creation cut short (the gateway killed, the machine
 * down), which can leave a PG_VERSION and half a database, is not taken for
 * a database: the next creating child empties the directory and creates
 * anew. The directory itself stays, so it may be a mount point or a symlink.
 */
async function createDatabase(entry: string, dataDir: string, timeoutMs: number, logger: Logger): Promise<void> {
  if (!existsSync(creatingMarker(dataDir)) && existsSync(dataDir) && !emptyDirectory(dataDir)) {
    throw new UnusableDataDirectory(`the embedded database's directory ${dataDir} holds no database (no PG_VERSION) but is not an empty directory: move it away, or set GATEWAY_DATA_DIR to another directory`);
  }
  const creator = forkChild(entry, [dataDir, CREATE_ONLY], logger);
  await outcome(creator, entry, timeoutMs, "create its database", async () => {
    const how = await creator.exited;
    if (how !== "code 0") throw new Error(`exited (${how}) before it had created its database`);
  });
  creator.passStderrOn();
}

/** Whether `dataDir` needs a database created: none there yet, or one whose creation was cut short. */
function needsCreating(dataDir: string): boolean {
  return existsSync(creatingMarker(dataDir)) || !existsSync(join(dataDir, "PG_VERSION"));
}

/** The file that stands beside `dataDir` while its database is being created. */
export function creatingMarker(dataDir: string): string {
  return `${dataDir}.creating`;
}

/** The lock file beside `dataDir` that the child using the directory holds (./lock.ts). */
export function directoryLock(dataDir: string): string {
  return `${dataDir}.lock`;
}

function emptyDirectory(path: string): boolean {
  return statSync(path).isDirectory() && readdirSync(path).length === 0;
}

interface Child {
  process: ChildProcess;
  /** Resolves once the child has exited and its stderr is read to the end: how it ended. */
  exited: Promise<string>;
  /** The end of what it printed on stderr so far, kept for the error that says why it did not start. */
  stderrTail(): string;
  /** From now on its stderr goes straight to the gateway's, after what was kept. */
  passStderrOn(): void;
}

function forkChild(entry: string, args: string[], logger: Logger): Child {
  const child = fork(entry, args, {
    execArgv: childExecArgv(entry),
    env: Object.fromEntries(CHILD_ENV.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]])),
    stdio: ["ignore", "inherit", "pipe", "ipc"],
    // Its own process group: a terminal's Ctrl+C reaches only the gateway,
    // which stops the database itself once its own shutdown is done.
    detached: true,
  });
  lowerPriority(child.pid, logger);
  let tail = "";
  let passing = false;
  child.stderr!.on("data", (chunk: Buffer) => {
    if (passing) process.stderr.write(chunk);
    else tail = (tail + chunk.toString()).slice(-STDERR_TAIL_CHARS);
  });
  return {
    process: child,
    // "close" comes after the child's stderr is read to the end, so the tail is complete.
    exited: new Promise<string>((resolve) => child.once("close", (code, signal) => resolve(signal ?? `code ${code}`))),
    stderrTail: () => tail,
    passStderrOn() {
      passing = true;
      if (tail) process.stderr.write(tail);
    },
  };
}

/**
 * What `wait` resolves to. When it rejects, the child fails to start or the
 * timeout passes first, the child is killed and the error says why, with the
 * end of its stderr.
 */
async function outcome<T>(child: Child, entry: string, timeoutMs: number, task: string, wait: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not ${task} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  let onError: (err: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (onError = reject));
  child.process.once("error", onError);
  try {
    return await Promise.race([wait(), timeout, failed]);
  } catch (err) {
    child.process.kill("SIGKILL");
    await child.exited;
    const why = err instanceof Error ? err.message : String(err);
    const tail = child.stderrTail();
    throw new Error(`the embedded database (PGlite, ${entry}) ${why}${tail && `; its stderr:\n${tail.trimEnd()}`}`);
  } finally {
    clearTimeout(timer);
    child.process.off("error", onError);
  }
}

/** Lowers the database's CPU priority below the gateway's; where the system refuses, it runs as it is. */
function lowerPriority(pid: number | undefined, logger: Logger): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, Math.min(NICEST, getPriority() + NICER_BY));
  } catch (err) {
    logger.debug({ err: (err as Error).message }, "cannot lower the embedded database's CPU priority");
  }
}

/** ./main beside this module: compiled JavaScript when this runs compiled, else the TypeScript source. */
function childEntry(): string {
  const js = fileURLToPath(new URL("./main.js", import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL("./main.ts", import.meta.url));
}

/**
 * The gateway's own Node flags, so the child runs as it does. A .ts entry
 * needs tsx, which those flags carry under `tsx` and `node --import tsx` but
 * not where something else compiled this module (vitest, a bundle).
 */
function childExecArgv(entry: string): string[] {
  // A debugger's flags stay with the gateway: the child would take its port.
  const own = process.execArgv.filter((arg) => !/^--inspect(-brk|-wait)?(=|$)/.test(arg));
  if (!entry.endsWith(".ts") || own.some((arg) => arg.includes("tsx"))) return own;
  return [...own, "--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href];
}
