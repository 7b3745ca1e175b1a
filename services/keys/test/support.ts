import { fileURLToPath } from "node:url";
import { MemoryBus, createLogger, openDatabase, parseConfig, type Database } from "@gateway/common";

export const MASTER = "sk-master-unit-test-0123";
export const logger = createLogger("keys-test", "silent");
export const config = parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
general_settings:
  master_key: ${MASTER}
`);

/** One in-memory PGlite with the keys schema, shared by a test file. */
export async function keysDatabase(): Promise<Database> {
  const database = await openDatabase({});
  await database.migrate(fileURLToPath(new URL("../drizzle", import.meta.url)), "keys");
  return database;
}

export { MemoryBus };
