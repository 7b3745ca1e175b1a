import { parseArgs } from "node:util";

export const SERVICES = ["all", "edge", "keys", "router", "accounting"] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface GatewayOptions {
  service: ServiceName;
  configPath: string;
  port: number;
  host: string;
  /** Postgres URL; unset means embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  /** NATS URL; unset means the in-process bus (one-process mode only). */
  natsUrl: string | undefined;
  /** JetStream stream and subject prefix, so several gateways can share one NATS. */
  natsStream: string | undefined;
  natsPrefix: string | undefined;
  /** Where embedded PGlite keeps its files; unset means in memory. */
  dataDir: string | undefined;
  /** Where the edge finds its peers when they run as their own processes. */
  keysUrl: string | undefined;
  routerUrl: string | undefined;
  accountingUrl: string | undefined;
}

const USAGE = `usage: npm start -- [--config config.yaml] [--port 4000] [--host 127.0.0.1] [--service all|edge|keys|router|accounting]

environment: DATABASE_URL, NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX, GATEWAY_DATA_DIR, KEYS_URL, ROUTER_URL, ACCOUNTING_URL, CONFIG_FILE_PATH, PORT, HOST, GATEWAY_SERVICE`;

export class UsageError extends Error {
  override name = "UsageError";
}

/** Flags first (LiteLLM's names), then environment variables, then defaults. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): GatewayOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        port: { type: "string", short: "p" },
        host: { type: "string" },
        service: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) throw new UsageError(USAGE);
  const service = values.service ?? env["GATEWAY_SERVICE"] ?? "all";
  if (!(SERVICES as readonly string[]).includes(service)) throw new UsageError(`unknown service "${service}"\n${USAGE}`);
  const port = Number(values.port ?? env["PORT"] ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid port "${values.port ?? env["PORT"]}"`);
  return {
    service: service as ServiceName,
    configPath: values.config ?? env["CONFIG_FILE_PATH"] ?? "config.yaml",
    port,
    host: values.host ?? env["HOST"] ?? "127.0.0.1",
    databaseUrl: env["DATABASE_URL"] || undefined,
    natsUrl: env["NATS_URL"] || undefined,
    natsStream: env["NATS_STREAM"] || undefined,
    natsPrefix: env["NATS_SUBJECT_PREFIX"] || undefined,
    dataDir: env["GATEWAY_DATA_DIR"] ?? ".data",
    keysUrl: env["KEYS_URL"] || undefined,
    routerUrl: env["ROUTER_URL"] || undefined,
    accountingUrl: env["ACCOUNTING_URL"] || undefined,
  };
}
