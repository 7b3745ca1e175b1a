import { join } from "node:path";
import { MemoryBus, NatsBus, openDatabase, type Bus, type Database, type Logger } from "@gateway/common";
import { startEmbeddedDatabase } from "./embedded-database/start.js";
import type { GatewayOptions } from "./options.js";

export function openBus(options: GatewayOptions): Promise<Bus> {
  if (options.natsUrl) {
    return NatsBus.connect({
      url: options.natsUrl,
      ...(options.natsStream && { stream: options.natsStream }),
      ...(options.natsPrefix && { prefix: options.natsPrefix }),
    });
  }
  if (options.service !== "all") {
    throw new Error(`NATS_URL must be set when running the ${options.service} service on its own`);
  }
  return Promise.resolve(new MemoryBus());
}

/** The services' database, and whether it is still there (the embedded one can die under the gateway). */
export async function openGatewayDatabase(options: GatewayOptions, logger: Logger): Promise<{ database: Database; alive: () => boolean }> {
  if (options.databaseUrl) return { database: await openDatabase({ url: options.databaseUrl }), alive: () => true };
  if (options.service !== "all") {
    throw new Error(`DATABASE_URL must be set when running the ${options.service} service on its own`);
  }
  // PGlite in a child process of its own, so its CPU, memory and batch
  // inserts stay off the gateway's event loop; stopped after the pool closes.
  const embedded = await startEmbeddedDatabase({ dataDir: options.dataDir && join(options.dataDir, "pglite"), logger });
  const database = await openDatabase({ embeddedSocket: embedded.socketPath });
  return { database: { ...database, close: () => database.close().finally(() => embedded.stop()) }, alive: embedded.running };
}
