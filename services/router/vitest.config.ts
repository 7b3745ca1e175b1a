import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Tests talk to real NATS servers, and some wait out a restart.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
