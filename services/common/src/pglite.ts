import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";

/**
 * Opens PGlite (Postgres in WebAssembly) on `dataDir`, or in memory without
 * one. Small buffers keep its memory down: the defaults are sized for a server.
 */
export async function openPglite(dataDir?: string): Promise<PGlite> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  return PGlite.create({ dataDir: dataDir ?? "memory://", postgresqlconf: ["shared_buffers=16MB", "wal_buffers=1MB"] });
}
