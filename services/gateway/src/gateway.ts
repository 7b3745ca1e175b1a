import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startAccounting } from "@gateway/accounting";
import {
  asksLiteLLMMetrics,
  ConfigError,
  createLogger,
  DatabaseProbe,
  directClient,
  gatewaySecret,
  ignoredSettings,
  unsetSettings,
  InternalCredential,
  loadConfig,
  metrics,
  ObjectIds,
  PassThroughRoutes,
  serveConnect,
  transportClient,
  unpricedModels,
  type Bus,
  type Database,
  type GatewayConfig,
} from "@gateway/common";
import { AllowedIps, AuthCache, createEdgeServer, type Peers } from "@gateway/edge";
import { masterKeyOf, startKeys } from "@gateway/keys";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { checkModelList, startRouter } from "@gateway/router";
import { openBus, openGatewayDatabase } from "./infrastructure.js";
import { UsageError, type GatewayOptions } from "./options.js";
import { replicaTransport } from "./replica-transport.js";

const DEFAULT_MAX_REQUEST_SIZE_MB = 32;
// What a service call carries besides the client's body (ids, key hash, provider headers), at most.
const MESSAGE_OVERHEAD_BYTES = 2 ** 20;

export interface RunningGateway {
  port: number;
  /**
   * Readiness turns false, then (after the drain delay) the port closes;
   * requests and streams in flight finish within the shutdown timeout, usage
   * events are flushed to the bus, consumers stop, and connections close.
   * Rejects when something could not finish in time.
   */
  close(): Promise<void>;
  /** Re-reads config.yaml where a router runs in this process (SIGHUP); a broken file is logged and ignored. */
  reload(): Promise<void>;
}

/** One step of shutting down, given the time by which everything must be done. */
type Closer = (deadline: number) => Promise<void>;

/** Starts what `options.service` names: every service in this process, or one of them. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const logger = createLogger(options.service === "all" ? "gateway" : options.service);
  const config = loadConfig(options.configPath);
  const ignored = ignoredSettings(config);
  if (ignored.length > 0) logger.warn({ path: options.configPath, ignored }, "config.yaml has LiteLLM settings this gateway does not implement; they have no effect");
  const unset = unsetSettings(config);
  if (unset.length > 0) logger.warn({ path: options.configPath, unset }, "config.yaml names environment variables that are not set for these settings, which are left unset");
  // Mistakes in config.yaml stop the start before Postgres, NATS or the
  // embedded database are opened: at once, and with their own message rather
  // than a database's (which may first be waited for, or created).
  if (["all", "keys"].includes(options.service)) masterKeyOf(config);
  if (["all", "router"].includes(options.service)) checkModelList(config);
  if (asksLiteLLMMetrics(config)) metrics.serveLiteLLM(config.litellm_settings.enable_end_user_cost_tracking_prometheus_only === true);
  const unpriced = unpricedModels(config.model_list);
  if (unpriced.length > 0 && ["all", "router"].includes(options.service)) {
    logger.info({ unpriced }, "these deployments have no known price, so their calls are booked at no cost; set model_info.input_cost_per_token and output_cost_per_token for any that cost money");
  }
  const maxBodyBytes = (config.general_settings.max_request_size_mb ?? DEFAULT_MAX_REQUEST_SIZE_MB) * 2 ** 20;
  const closers: Closer[] = [];
  let ready = false;
  let closing: Promise<void> | undefined;
  let bus: Bus | undefined;
  let database: Database | undefined;
  const needsBus = ["all", "keys", "router", "accounting"].includes(options.service);
  const needsDatabase = ["all", "keys", "router", "accounting"].includes(options.service);
  // Set where a router runs here: its config reload and whether its model list is loaded.
  let reloadRouter = () => Promise.resolve();
  let routerReady = () => true;
  let databaseAlive = () => true;
  // Readiness's "db" field (only readiness asks it; model calls never wait on it).
  let databaseProbe: DatabaseProbe | undefined;
  try {
    if (needsBus) {
      bus = await openBus(options, logger);
      closers.unshift(() => bus!.close());
    }
    if (needsDatabase) {
      const { database_connection_pool_limit: max, database_connection_timeout: connectTimeoutSeconds } = config.general_settings;
      ({ database, alive: databaseAlive } = await openGatewayDatabase(withConfiguredDatabase(options, config), logger, {
        ...(max && { max }),
        ...(connectTimeoutSeconds !== undefined && { connectTimeoutSeconds }),
      }));
      closers.unshift(() => database!.close());
      databaseProbe = new DatabaseProbe(database.db);
    }
    // Each starter registers its own shutdown steps. Steps run in reverse:
    // the router (started last) flushes its usage events before accounting
    // stops consuming them.
    const start = {
      keys: async () => {
        const keys = await startKeys({ config, database: database!, bus: bus!, logger });
        closers.unshift((deadline) => keys.stop(deadline));
        return keys;
      },
      accounting: async () => {
        const accounting = await startAccounting({ database: database!, bus: bus!, logger, settings: config.general_settings });
        closers.unshift(() => accounting.stop());
        return accounting;
      },
      router: async () => {
        const router = await startRouter({ config, configPath: options.configPath, database: database!, bus: bus!, logger, outboxDir: outboxDir(options) });
        ({ reload: reloadRouter, ready: routerReady } = router);
        closers.unshift(() => router.close());
        closers.unshift((deadline) =>
          within(deadline, router.flush(), "flushing usage events").catch((err: unknown) => {
            // Kept on disk, they are published at the next start: nothing is lost by stopping.
            if (router.unsaved() > 0) throw err;
            logger.warn({ err: (err as Error).message }, "usage events not yet stored stay in the outbox, for the next start to publish");
          }),
        );
        return router;
      },
    };
    let port: number;
    if (options.service === "edge" || options.service === "all") {
      let peers: Peers;
      let authCache: AuthCache | undefined;
      if (options.service === "all") {
        const keys = await start.keys();
        const accounting = await start.accounting();
        const router = await start.router();
        peers = {
          keys: directClient(KeysService, keys.impl),
          router: directClient(RouterService, router.impl),
          accounting: directClient(AccountingService, accounting.impl),
        };
      } else {
        const credential = splitCredential(config);
        // The services take requests this large (serveConnect's maxMessageBytes below).
        const maxMessageBytes = maxBodyBytes + MESSAGE_OVERHEAD_BYTES;
        peers = {
          keys: transportClient(KeysService, replicaTransport(required(options.keysUrl, "KEYS_URL"), credential, maxMessageBytes)),
          router: transportClient(RouterService, replicaTransport(required(options.routerUrl, "ROUTER_URL"), credential, maxMessageBytes)),
          accounting: transportClient(AccountingService, replicaTransport(required(options.accountingUrl, "ACCOUNTING_URL"), credential, maxMessageBytes)),
        };
        // In one process an Authorize is a function call; across processes it is a hop worth skipping.
        const cache = new AuthCache(peers.keys, logger);
        cache.start();
        closers.unshift(() => cache.close());
        authCache = cache;
      }
      const metricsNeedAuth = config.litellm_settings.require_auth_for_metrics_endpoint === true;
      const edge = createEdgeServer(
        {
          peers,
          authCache,
          logger,
          maxBodyBytes,
          metricsNeedAuth,
          // The router's model admin and the accounting service ask for it, split or not.
          masterKey: config.general_settings.master_key,
          keyHeader: config.general_settings.litellm_key_header_name?.toLowerCase(),
          allowedIps: config.general_settings.allowed_ips && new AllowedIps(config.general_settings.allowed_ips, config.general_settings.use_x_forwarded_for === true),
          enforceUserParam: config.general_settings.enforce_user_param,
          rejectClientTags: config.general_settings.reject_clientside_metadata_tags,
          defaultEndUserBudgetId: config.litellm_settings.max_end_user_budget_id,
          passThrough: PassThroughRoutes.fromConfig(config),
          objectIds: new ObjectIds(gatewaySecret(config)),
          ready: () => ready && routerReady() && databaseAlive(),
          database: databaseProbe,
        },
        tlsFiles(options),
      );
      port = await edge.listen(options.port, options.host);
      closers.unshift((deadline) => edge.close(deadline - Date.now()));
    } else {
      if (options.sslKeyfilePath) throw new UsageError("--ssl_keyfile_path and --ssl_certfile_path apply to the edge only");
      const credential = splitCredential(config);
      const service = await start[options.service]();
      const server = await serveConnect(service.routes, {
        port: options.port,
        host: options.host,
        credential,
        ready: () => ready && routerReady() && databaseAlive(),
        database: databaseProbe,
        ...("closing" in service && { closing: service.closing }),
        // A model call's body, as the edge took it, and the rest of its message.
        maxMessageBytes: maxBodyBytes + MESSAGE_OVERHEAD_BYTES,
      });
      port = server.port;
      closers.unshift((deadline) => server.close(deadline - Date.now()));
    }
    ready = true;
    logger.info({ service: options.service, port, host: options.host }, "gateway listening");
    return {
      port,
      reload: () => reloadRouter(),
      close: () =>
        (closing ??= (async () => {
          ready = false;
          logger.info({ drainDelayMs: options.drainDelayMs, shutdownTimeoutMs: options.shutdownTimeoutMs }, "shutting down");
          if (options.drainDelayMs > 0) await sleep(options.drainDelayMs);
          await runClosers(closers, Date.now() + options.shutdownTimeoutMs);
          logger.info("shut down");
        })()),
    };
  } catch (err) {
    await runClosers(closers, Date.now()).catch(() => {});
    throw err;
  }
}

/** Runs every step even when one fails, then reports the first failure. */
async function runClosers(closers: Closer[], deadline: number): Promise<void> {
  let failure: unknown;
  for (const close of closers) {
    try {
      await close(deadline);
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}

/** Waits for `work` until the deadline; past it, gives up with an error naming what was left undone. */
async function within(deadline: number, work: Promise<void>, what: string): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([
      work,
      sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal }).then(() => {
        throw new Error(`${what} did not finish before the shutdown timeout`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

function tlsFiles(options: GatewayOptions): { key: Buffer; cert: Buffer } | undefined {
  if (!options.sslKeyfilePath || !options.sslCertfilePath) return undefined;
  return { key: readFileSync(options.sslKeyfilePath), cert: readFileSync(options.sslCertfilePath) };
}

/** LiteLLM's general_settings.database_url, when the config sets one, wins over DATABASE_URL as it does in LiteLLM. */
function withConfiguredDatabase(options: GatewayOptions, config: GatewayConfig): GatewayOptions {
  const url = config.general_settings.database_url;
  return url === undefined ? options : { ...options, databaseUrl: url, databaseUrlSetting: "general_settings.database_url" };
}

/** The router's usage outbox lives in the data directory; without one, unsent usage is kept in memory only. */
function outboxDir(options: GatewayOptions): string | undefined {
  return options.dataDir && join(options.dataDir, "outbox");
}

/**
 * Split, the services' calls to each other carry a credential derived from
 * the master key, and their ports refuse calls without it. In one process
 * there are no such calls, and no credential.
 */
function splitCredential(config: GatewayConfig): InternalCredential {
  const masterKey = config.general_settings.master_key;
  if (masterKey === undefined) {
    throw new ConfigError("general_settings.master_key (or the LITELLM_MASTER_KEY variable) must be set: split, the services' calls to each other carry a credential derived from it");
  }
  return new InternalCredential(masterKey);
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`${name} must be set when the edge runs on its own`);
  return value;
}
