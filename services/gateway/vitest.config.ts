import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    globalSetup: ["test/support/build-bundle.ts"],
    hookTimeout: 60_000,
  },
});
