import { sql } from "drizzle-orm";
import type { Db } from "./database.js";

/** What /health/readiness says of the database (LiteLLM's values for its "db" field). */
export type DatabaseState = "connected" | "disconnected";

/** Readiness asked again within this reuses the last answer, however many probes ask. */
const FRESH_MS = 2_000;
/** A `select 1` that has not answered within this counts as a database that does not answer. */
const PROBE_TIMEOUT_MS = 2_000;
/**
 * How long readiness waits for the probe it started before it answers with
 * the last state known: Kubernetes gives a probe 1 s by default, and a
 * readiness that timed out on every replica at once, because their shared
 * database froze, would take them all out of the load balancer.
 */
const ANSWER_WAIT_MS = 500;

/**
 * Whether the database answers a `select 1`, for readiness probes only:
 * model calls never wait for it. At most one statement runs at a time (one
 * that hangs on a frozen server is not joined by more, each holding a pool
 * connection), and at most one starts per FRESH_MS, so probes from
 * Kubernetes and load balancers cost the database almost nothing.
 */
export class DatabaseProbe {
  // Made once the start has reached the database (and migrated it).
  private last: { state: DatabaseState; at: number } = { state: "connected", at: performance.now() };
  private running: Promise<DatabaseState> | undefined;

  constructor(private readonly db: Db) {}

  async state(): Promise<DatabaseState> {
    if (performance.now() - this.last.at < FRESH_MS) return this.last.state;
    this.running ??= this.probe();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<DatabaseState>((resolve) => {
      timer = setTimeout(() => resolve(this.last.state), ANSWER_WAIT_MS).unref();
    });
    try {
      return await Promise.race([this.running, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Records the answer of a `select 1`; one that does not come within PROBE_TIMEOUT_MS is recorded as disconnected, and the late answer after it. */
  private probe(): Promise<DatabaseState> {
    // Unref'd: a probe waiting on a dead server must not keep the process alive.
    const timer = setTimeout(() => this.record("disconnected"), PROBE_TIMEOUT_MS).unref();
    return this.db.execute(sql`select 1`).then(
      () => this.settled("connected", timer),
      () => this.settled("disconnected", timer),
    );
  }

  private settled(state: DatabaseState, timer: NodeJS.Timeout): DatabaseState {
    clearTimeout(timer);
    this.running = undefined;
    this.record(state);
    return state;
  }

  private record(state: DatabaseState): void {
    this.last = { state, at: performance.now() };
  }
}
