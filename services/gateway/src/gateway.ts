import { createClient } from "@connectrpc/connect";
import { startAccounting } from "@gateway/accounting";
import { connectTransport, createLogger, directClient, loadConfig, serveConnect, type Bus, type Database } from "@gateway/common";
import { createEdgeServer, type Peers } from "@gateway/edge";
import { startKeys } from "@gateway/keys";
import { AccountingService } from "@gateway/proto/accounting/v1/accounting_pb.js";
import { KeysService } from "@gateway/proto/keys/v1/keys_pb.js";
import { RouterService } from "@gateway/proto/router/v1/router_pb.js";
import { startRouter } from "@gateway/router";
import { openBus, openGatewayDatabase } from "./infrastructure.js";
import type { GatewayOptions } from "./options.js";

const DEFAULT_MAX_REQUEST_SIZE_MB = 32;

export interface RunningGateway {
  port: number;
  /** Stops taking work, finishes what is in flight, flushes, and closes every connection. */
  close(): Promise<void>;
}

/** Starts what `options.service` names: every service in this process, or one of them. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const logger = createLogger(options.service === "all" ? "gateway" : options.service);
  const config = loadConfig(options.configPath);
  const maxBodyBytes = (config.general_settings.max_request_size_mb ?? DEFAULT_MAX_REQUEST_SIZE_MB) * 2 ** 20;
  const closers: (() => Promise<void>)[] = [];
  let ready = false;
  let bus: Bus | undefined;
  let database: Database | undefined;
  const needsBus = ["all", "router", "accounting"].includes(options.service);
  const needsDatabase = ["all", "accounting"].includes(options.service);
  try {
    if (needsBus) {
      bus = await openBus(options);
      closers.unshift(() => bus!.close());
    }
    if (needsDatabase) {
      database = await openGatewayDatabase(options);
      closers.unshift(() => database!.close());
    }
    let port: number;
    if (options.service === "edge" || options.service === "all") {
      let peers: Peers;
      if (options.service === "all") {
        const keys = startKeys({ config });
        const router = startRouter({ config, bus: bus!, logger });
        const accounting = await startAccounting({ database: database!, bus: bus!, logger });
        closers.unshift(() => accounting.stop());
        closers.unshift(() => router.flush());
        peers = {
          keys: directClient(KeysService, keys.impl),
          router: directClient(RouterService, router.impl),
          accounting: directClient(AccountingService, accounting.impl),
        };
      } else {
        peers = {
          keys: createClient(KeysService, connectTransport(required(options.keysUrl, "KEYS_URL"))),
          router: createClient(RouterService, connectTransport(required(options.routerUrl, "ROUTER_URL"))),
          accounting: createClient(AccountingService, connectTransport(required(options.accountingUrl, "ACCOUNTING_URL"))),
        };
      }
      const edge = createEdgeServer({ peers, logger, maxBodyBytes, ready: () => ready });
      port = await edge.listen(options.port, options.host);
      closers.unshift(() => edge.close());
    } else {
      const routes =
        options.service === "keys"
          ? startKeys({ config }).routes
          : options.service === "router"
            ? startRouter({ config, bus: bus!, logger }).routes
            : (await startAccounting({ database: database!, bus: bus!, logger })).routes;
      const server = await serveConnect(routes, { port: options.port, host: options.host, ready: () => ready });
      port = server.port;
      closers.unshift(() => server.close());
    }
    ready = true;
    logger.info({ service: options.service, port, host: options.host }, "gateway listening");
    return {
      port,
      async close() {
        ready = false;
        for (const close of closers) await close();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => {});
    throw err;
  }
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} must be set when the edge runs on its own`);
  return value;
}
