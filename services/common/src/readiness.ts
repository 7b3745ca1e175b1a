import type { DatabaseProbe, DatabaseState } from "./database-probe.js";

export interface ReadinessAnswer {
  status: number;
  body: { status: "healthy" | "unhealthy"; db?: DatabaseState };
}

/**
 * /health/readiness, as the edge and the split services answer it: 503 while
 * the process is not ready (starting, draining, its embedded database dead),
 * else 200 with LiteLLM's "db" field where the process holds a database.
 * A Postgres that does not answer leaves readiness at 200 with "db":
 * "disconnected": every replica shares that database, so a 503 from all of
 * them would take every endpoint out of the load balancer, and the gateway
 * still serves the model calls of the keys it holds.
 */
export async function readinessAnswer(ready: boolean, database: DatabaseProbe | undefined): Promise<ReadinessAnswer> {
  if (!ready) return { status: 503, body: { status: "unhealthy" } };
  return { status: 200, body: database ? { status: "healthy", db: await database.state() } : { status: "healthy" } };
}
