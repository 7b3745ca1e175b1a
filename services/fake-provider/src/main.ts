#!/usr/bin/env -S npx tsx
import { parseArgs } from "node:util";
import { startFakeProvider } from "./server.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "4010" },
    "latency-ms": { type: "string", default: "0" },
    "chunk-delay-ms": { type: "string", default: "0" },
  },
});

function nonNegativeInteger(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${flag} must be a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

const provider = await startFakeProvider({
  port: nonNegativeInteger("port", values.port),
  // Left running for benches and demos: keeping each request would only grow.
  record: false,
  behavior: {
    latencyMs: nonNegativeInteger("latency-ms", values["latency-ms"]),
    chunkDelayMs: nonNegativeInteger("chunk-delay-ms", values["chunk-delay-ms"]),
  },
});
console.log(`fake provider listening on ${provider.url}`);

function stop(): void {
  void provider.close().then(() => process.exit(0));
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
