import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ServiceName } from "../../src/index.js";
import { gone } from "./pids.js";

const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
// The bundle `npm start` runs; the tests' global setup builds it.
const MAIN = "services/gateway/dist/main.js";
const START_TIMEOUT_MS = 60_000;
const DATABASE_EXIT_TIMEOUT_MS = 15_000;

export interface GatewayProcess {
  service: ServiceName;
  port: number;
  url: string;
  /** Its GATEWAY_DATA_DIR (a router's usage outbox lives there). */
  dataDir: string;
  /** The exit code, or the signal's name when a signal ended it. */
  exited: Promise<number | string>;
  /** Everything it printed so far, for failure messages. */
  output(): string;
  /** Sends the signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Sends a signal that is not meant to stop it (SIGHUP). */
  signal(signal: NodeJS.Signals): void;
}

export interface SpawnOptions {
  configPath: string;
  /** 0 picks a free port; a restarted replica passes its old one. */
  port?: number;
  /** A restarted replica passes its old one; otherwise each process gets a fresh one. */
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
}

/**
 * Gateway services as real processes, started the way `npm start` and the
 * container start them (`node services/gateway/dist/main.js --service …`).
 * close() kills whatever is still running, so a failing test leaves nothing
 * behind.
 */
export class ProcessGroup {
  private readonly running = new Set<ChildProcess>();
  private readonly dataDirs = new Set<string>();
  /** Embedded database children: they outlive a killed gateway by a moment, still writing to its data directory. */
  private readonly databases = new Set<number>();

  async start(service: ServiceName, options: SpawnOptions): Promise<GatewayProcess> {
    const args = ["--enable-source-maps", MAIN, "--service", service, "--port", String(options.port ?? 0), "--config", options.configPath];
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), `gateway-${service}-`));
    this.dataDirs.add(dataDir);
    const child = spawn(process.execPath, [...args, ...(options.args ?? [])], {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: "info", GATEWAY_DATA_DIR: dataDir, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.running.add(child);
    let printed = "";
    const exited = new Promise<number | string>((resolve) => {
      child.once("exit", (code, signal) => {
        this.running.delete(child);
        resolve(code ?? signal ?? "unknown");
      });
    });
    child.stderr.on("data", (data: Buffer) => (printed += data.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${service} did not start:\n${printed}`)), START_TIMEOUT_MS);
      createInterface({ input: child.stdout }).on("line", (line) => {
        printed += `${line}\n`;
        const entry = parseJson(line);
        if (entry?.["msg"] === "embedded database ready" && typeof entry["pid"] === "number") this.databases.add(entry["pid"]);
        if (entry?.["msg"] === "gateway listening" && typeof entry["port"] === "number") {
          clearTimeout(timer);
          resolve(entry["port"]);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${service} exited (${code}) before listening:\n${printed}`));
      });
    });
    return {
      service,
      port,
      url: `http://127.0.0.1:${port}`,
      dataDir,
      exited,
      output: () => printed,
      stop: (signal = "SIGTERM") => {
        child.kill(signal);
        return exited;
      },
      signal: (signal) => {
        child.kill(signal);
      },
    };
  }

  /** Kills every process still running, waits for them and their database children to go, and removes their data directories. */
  async close(): Promise<void> {
    const waits = [...this.running].map((child) => new Promise((resolve) => child.once("exit", resolve)));
    for (const child of this.running) child.kill("SIGKILL");
    await Promise.all(waits);
    await gone(this.databases, DATABASE_EXIT_TIMEOUT_MS);
    this.databases.clear();
    for (const dir of this.dataDirs) rmSync(dir, { recursive: true, force: true });
    this.dataDirs.clear();
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
