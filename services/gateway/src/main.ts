import { ConfigError, startTracing, useLeanAsyncResourceBind } from "@gateway/common";
import { startGateway } from "./gateway.js";
import { parseOptions, UsageError } from "./options.js";

// SIGTERM/SIGINT: stop taking work, finish what is in flight, then exit 0.
// A second signal exits at once. SIGHUP reloads the config.
async function main(): Promise<void> {
  useLeanAsyncResourceBind();
  const options = parseOptions(process.argv.slice(2), process.env);
  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; before the services start, so they wire tracing in.
  const stopTracing = await startTracing({ serviceName: process.env["OTEL_SERVICE_NAME"] ?? `llm-gateway-${options.service}` });
  const gateway = await startGateway(options);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    gateway
      .close()
      .then(() => stopTracing?.())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // SIGHUP: re-read config.yaml (the router's model list and settings), as the file watch does.
  process.on("SIGHUP", () => void gateway.reload());
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
