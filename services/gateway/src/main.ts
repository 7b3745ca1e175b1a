import { ConfigError } from "@gateway/common";
import { startGateway } from "./gateway.js";
import { parseOptions, UsageError } from "./options.js";

// SIGTERM/SIGINT: stop taking work, finish what is in flight, then exit 0.
// A second signal exits at once.
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const gateway = await startGateway(options);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
