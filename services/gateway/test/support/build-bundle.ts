import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * vitest's global setup: bundles the gateway once, as `npm start` does, so
 * the tests that start gateway processes run exactly what users run.
 */
export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL("../../build.mjs", import.meta.url))], { stdio: "inherit" });
}
