import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Tests talk to the real Postgres and NATS, and one waits out a redelivery delay.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
