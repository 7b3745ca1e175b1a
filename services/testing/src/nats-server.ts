import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./free-port.js";

const NATS_SERVER = process.env["NATS_SERVER_BIN"] ?? "/usr/sbin/nats-server";

export interface ThrowawayNats {
  url: string;
  /** Kills the server (SIGKILL by default), keeping its JetStream store. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and deletes its store. */
  close(): Promise<void>;
}

/**
 * A nats-server with JetStream of its own, on a free loopback port, for tests
 * that stop and restart NATS or start it with other flags (`extraArgs`, e.g.
 * `--user`): the machine's shared server must stay up for everyone else's
 * tests.
 */
export async function startThrowawayNats(extraArgs: string[] = []): Promise<ThrowawayNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "gateway-nats-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, ...extraArgs], { stdio: "ignore" });
    await waitForPort(port);
  };
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
