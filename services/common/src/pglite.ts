import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";

/**
 * Opens PGlite (Postgres in WebAssembly) on `dataDir`, or in memory without
 * one. Small buffers keep its memory down: the defaults are sized for a server.
 * Loaded on first use: the gateway's own process never opens PGlite (its
 * child does), and need not carry the module.
 */
export async function openPglite(dataDir?: string): Promise<PGlite> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const { PGlite } = await import("@electric-sql/pglite");
  return PGlite.create({ dataDir: dataDir ?? "memory://", postgresqlconf: ["shared_buffers=16MB", "wal_buffers=1MB"] });
}
