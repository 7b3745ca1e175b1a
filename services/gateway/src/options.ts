import { parseArgs } from "node:util";

export const SERVICES = ["all", "edge", "keys", "router", "accounting"] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface GatewayOptions {
  service: ServiceName;
  configPath: string;
  port: number;
  host: string;
  /** Postgres URL; unset means embedded PGlite (a child process) in `dataDir`/pglite. */
  databaseUrl: string | undefined;
  /** Where databaseUrl came from, for messages: DATABASE_URL unless the config set it. */
  databaseUrlSetting?: string;
  /** NATS URL; unset means the in-process bus (one-process mode only). */
  natsUrl: string | undefined;
  /** JetStream stream and subject prefix, so several gateways can share one NATS. */
  natsStream: string | undefined;
  natsPrefix: string | undefined;
  /**
   * Where embedded PGlite and the usage outbox keep their files
   * (GATEWAY_DATA_DIR, default .data); set empty, nothing is kept on disk.
   */
  dataDir: string | undefined;
  /**
   * Where the edge finds its peers when they run as their own processes:
   * one URL, or several replicas' URLs separated by commas.
   */
  keysUrl: string | undefined;
  routerUrl: string | undefined;
  accountingUrl: string | undefined;
  /** PEM files for the edge to serve HTTPS itself (LiteLLM's --ssl_keyfile_path / --ssl_certfile_path). */
  sslKeyfilePath: string | undefined;
  sslCertfilePath: string | undefined;
  /**
   * On SIGTERM: how long readiness reports 503 while still serving, so load
   * balancers stop sending before the port closes...
   */
  drainDelayMs: number;
  /** ...then how long requests and streams in flight may take to finish. */
  shutdownTimeoutMs: number;
  /** At start, how long to keep trying a Postgres or NATS that cannot be reached yet before exiting 1. */
  startWaitMs: number;
  /** How long a Postgres statement may wait for a connection and run before it fails; 0: no limit. */
  databaseQueryTimeoutMs: number;
}

const USAGE = `usage: npm start -- [--config config.yaml] [--port 4000] [--host 127.0.0.1] [--service all|edge|keys|router|accounting]
                    [--ssl_keyfile_path key.pem --ssl_certfile_path cert.pem]

environment: DATABASE_URL, NATS_URL, NATS_STREAM, NATS_SUBJECT_PREFIX, GATEWAY_DATA_DIR, KEYS_URL, ROUTER_URL, ACCOUNTING_URL
  (each peer URL may list replicas: http://a:4001,http://b:4001), CONFIG_FILE_PATH, PORT, HOST, GATEWAY_SERVICE,
  SSL_KEYFILE_PATH, SSL_CERTFILE_PATH, GATEWAY_DRAIN_DELAY_SECONDS (default 0), GATEWAY_SHUTDOWN_TIMEOUT_SECONDS (default 25),
  GATEWAY_START_WAIT_SECONDS (default 30), GATEWAY_DATABASE_QUERY_TIMEOUT_SECONDS (default 60, 0: none)`;

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
        // LiteLLM spells these with underscores; the dashed forms are accepted too.
        ssl_keyfile_path: { type: "string" },
        ssl_certfile_path: { type: "string" },
        "ssl-keyfile-path": { type: "string" },
        "ssl-certfile-path": { type: "string" },
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
  const sslKeyfilePath = values.ssl_keyfile_path ?? values["ssl-keyfile-path"] ?? (env["SSL_KEYFILE_PATH"] || undefined);
  const sslCertfilePath = values.ssl_certfile_path ?? values["ssl-certfile-path"] ?? (env["SSL_CERTFILE_PATH"] || undefined);
  if ((sslKeyfilePath === undefined) !== (sslCertfilePath === undefined)) {
    throw new UsageError("--ssl_keyfile_path and --ssl_certfile_path go together");
  }
  return {
    service: service as ServiceName,
    configPath: values.config ?? env["CONFIG_FILE_PATH"] ?? "config.yaml",
    port,
    host: values.host ?? env["HOST"] ?? "127.0.0.1",
    databaseUrl: env["DATABASE_URL"] || undefined,
    natsUrl: env["NATS_URL"] || undefined,
    natsStream: env["NATS_STREAM"] || undefined,
    natsPrefix: env["NATS_SUBJECT_PREFIX"] || undefined,
    dataDir: env["GATEWAY_DATA_DIR"] === "" ? undefined : (env["GATEWAY_DATA_DIR"] ?? ".data"),
    keysUrl: env["KEYS_URL"] || undefined,
    routerUrl: env["ROUTER_URL"] || undefined,
    accountingUrl: env["ACCOUNTING_URL"] || undefined,
    sslKeyfilePath,
    sslCertfilePath,
    drainDelayMs: seconds(env, "GATEWAY_DRAIN_DELAY_SECONDS", 0),
    shutdownTimeoutMs: seconds(env, "GATEWAY_SHUTDOWN_TIMEOUT_SECONDS", 25),
    startWaitMs: seconds(env, "GATEWAY_START_WAIT_SECONDS", 30),
    databaseQueryTimeoutMs: seconds(env, "GATEWAY_DATABASE_QUERY_TIMEOUT_SECONDS", 60),
  };
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback * 1000;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new UsageError(`${name} must be a number of seconds, got "${raw}"`);
  return value * 1000;
}
