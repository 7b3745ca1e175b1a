import { join } from "node:path";
import { MemoryBus, NatsBus, openDatabase, type Bus, type Database } from "@gateway/common";
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

export function openGatewayDatabase(options: GatewayOptions): Promise<Database> {
  if (!options.databaseUrl && options.service !== "all") {
    throw new Error(`DATABASE_URL must be set when running the ${options.service} service on its own`);
  }
  return openDatabase({ url: options.databaseUrl, dataDir: options.dataDir && join(options.dataDir, "pglite") });
}
