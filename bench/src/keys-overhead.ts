import { createLogger, directClient, MemoryBus, openDatabase, parseConfig } from "@gateway/common";
import { startKeys } from "@gateway/keys";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";

// Auth plus limit checks as the one-process gateway runs them: Authorize and
// Release through the same direct client the edge uses, for the master key
// and for a virtual key with every limit set (budget, rpm, tpm, parallel).

const MASTER = "sk-bench-master-key";
const ROUNDS = 50_000;
const WARMUP = 5_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.floor(sorted.length * p)] ?? NaN;
}

async function main(): Promise<void> {
  const config = parseConfig(`
model_list:
  - model_name: fast-model
    litellm_params: { model: openai/gpt-4o-mini }
general_settings:
  master_key: ${MASTER}
`);
  const database = await openDatabase({});
  const bus = new MemoryBus();
  const keys = await startKeys({ config, database, bus, logger: createLogger("bench", "silent") });
  const client = directClient(KeysService, keys.impl);
  const minted = await client.generateKey(
    { settings: { maxBudget: 1e6, rpmLimit: 1e8, tpmLimit: 1e9, maxParallelRequests: 10_000 } },
    { headers: { authorization: `Bearer ${MASTER}` } },
  );
  const rows: string[] = [];
  for (const [name, apiKey] of [
    ["master key", MASTER],
    ["virtual key, all limits", minted.key],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < ROUNDS + WARMUP; i++) {
      const requestId = `bench-${name}-${i}`;
      const start = process.hrtime.bigint();
      const auth = await client.authorize({ apiKey, requestId, model: "fast-model", promptTokens: 120, maxTokens: 0 });
      await client.release({ requestId, keyHash: auth.keyHash, holder: auth.holder, cost: 0.00001, totalTokens: 30n });
      if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${name} | ${percentile(times, 0.5).toFixed(1)} | ${percentile(times, 0.99).toFixed(1)} |`);
  }
  console.log(`\nAuthorize + Release, one process, ${ROUNDS} rounds each\n`);
  console.log("| key | p50 µs | p99 µs |");
  console.log("|---|---|---|");
  for (const r of rows) console.log(r);
  await keys.stop();
  await bus.close();
  await database.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
