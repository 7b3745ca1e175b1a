import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Whether the process still runs (a zombie waiting for its reaper does not). */
export function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !existsSync(stat) || readFileSync(stat, "utf8").split(") ")[1]?.[0] !== "Z";
}

/** Waits until none of the processes runs, or throws after the timeout. */
export async function gone(pids: Iterable<number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const pid of pids) {
    while (running(pid)) {
      if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
      await sleep(20);
    }
  }
}
