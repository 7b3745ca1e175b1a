import { ConfigError, databaseUnreachable, driverMessage, startTracing, useLeanAsyncResourceBind } from "@gateway/common";
import { startGateway, type RunningGateway } from "./gateway.js";
import { StartupError } from "./infrastructure.js";
import { parseOptions, UsageError } from "./options.js";

// SIGTERM/SIGINT: stop taking work, finish what is in flight, then exit 0.
// A second signal exits at once. SIGHUP reloads the config.
async function main(): Promise<void> {
  useLeanAsyncResourceBind();
  const options = parseOptions(process.argv.slice(2), process.env);
  // Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set; before the services start, so they wire tracing in.
  const stopTracing = await startTracing({ serviceName: process.env["OTEL_SERVICE_NAME"] ?? `llm-gateway-${options.service}` });
  // The signals are taken before the start, which logs "gateway listening"
  // just before it returns: a SIGTERM right after that line killed the
  // process (no handler yet) instead of stopping it. A signal's handler runs
  // after the start's return has been taken in, so one that finds no gateway
  // came before it listened: nothing to finish, the process exits at once.
  let gateway: RunningGateway | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping || !gateway) process.exit(1);
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
  process.on("SIGHUP", () => void gateway?.reload());
  gateway = await startGateway(options);
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  const listening = listenFailure(err);
  if (listening) {
    console.error(listening);
    process.exit(2);
  }
  if (err instanceof StartupError) {
    console.error(err.message);
    process.exit(err.toChange ? 2 : 1);
  }
  // The database went away after the migrations, while the services loaded what they keep in memory.
  if (databaseUnreachable(err)) {
    console.error(`the start did not finish: the connection to the database broke: ${driverMessage(err)}; the next start tries again`);
    process.exit(1);
  }
  console.error(err);
  process.exit(1);
});

/** What to tell someone whose port or host cannot be listened on; undefined for any other error. */
function listenFailure(err: unknown): string | undefined {
  const { syscall, code, address, port } = err as { syscall?: string; code?: string; address?: string; port?: number };
  if (syscall !== "listen") return undefined;
  // Node leaves the port out when it was 0 (any free port).
  const where = port === undefined ? `${address}` : `${address}:${port}`;
  if (code === "EADDRINUSE") return `cannot listen on ${where}: something else already does (another gateway?); choose another with --port or PORT`;
  if (code === "EACCES") return `cannot listen on ${where}: not allowed (ports below 1024 need privileges); choose another with --port or PORT`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${where}: no interface of this machine has that address; check --host or HOST`;
  return `cannot listen on ${where}: ${(err as Error).message}`;
}
