import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface Running {
  child: ChildProcess;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** Bundles the gateway as `npm start` does, so the bench measures what users run. */
export function buildGateway(): void {
  execFileSync("npm", ["run", "build", "--silent"], { cwd: ROOT, stdio: "inherit" });
}

/**
 * Compiles the reference proxy to plain JavaScript beside the bench, so it
 * runs as the gateway's bundle does: without a TypeScript loader, whose
 * worker thread would count in its memory. Returns the entry to run.
 */
export function buildReference(): string {
  const entry = "bench/dist/reference-proxy.js";
  buildSync({ entryPoints: [`${ROOT}/bench/src/reference-proxy.ts`], outfile: `${ROOT}/${entry}`, platform: "node", format: "esm", target: "node20", logLevel: "warning" });
  return entry;
}

/**
 * Runs an entry of this repo as its own process (TypeScript through tsx,
 * JavaScript as it is) and resolves once it prints the port it listens on
 * (the fake provider's banner or the gateway's "gateway listening" log line).
 */
export function run(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...loader, entry, ...args], {
    cwd: ROOT,
    // At "info" the gateway logs the port it listens on, and nothing per request.
    env: { ...process.env, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let listening = false;
    // Keeps reading the child's output for its whole life: a child whose
    // stdout pipe fills up blocks on its next log line.
    child.stdout?.on("data", (data: Buffer) => {
      if (listening) return;
      out += data.toString();
      const match = /127\.0\.0\.1:(\d+)/.exec(out) ?? /"port":(\d+)/.exec(out);
      if (!match) return;
      listening = true;
      const port = Number(match[1]);
      resolve({
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            // Killed by a signal, a child has no exit code but a signal code.
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      });
    });
    child.once("exit", (code) => reject(new Error(`${entry} exited with ${code} before listening:\n${out}`)));
  });
}

/** CPU time (user + system) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second here).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The processes a process started (the gateway's embedded database). */
export function childrenOf(pid: number): number[] {
  const listed = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
  return listed === "" ? [] : listed.split(" ").map(Number);
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}
