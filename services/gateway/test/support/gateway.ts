import { startGateway, type GatewayOptions, type RunningGateway, type ServiceName } from "../../src/index.js";

export interface GatewayPlumbing {
  databaseUrl?: string;
  nats?: { url: string; stream: string; prefix: string };
}

export function gatewayOptions(service: ServiceName, configPath: string, plumbing: GatewayPlumbing, peers: Partial<GatewayOptions> = {}): GatewayOptions {
  return {
    service,
    configPath,
    port: 0,
    host: "127.0.0.1",
    databaseUrl: plumbing.databaseUrl,
    natsUrl: plumbing.nats?.url,
    natsStream: plumbing.nats?.stream,
    natsPrefix: plumbing.nats?.prefix,
    dataDir: undefined,
    keysUrl: undefined,
    routerUrl: undefined,
    accountingUrl: undefined,
    sslKeyfilePath: undefined,
    sslCertfilePath: undefined,
    drainDelayMs: 0,
    shutdownTimeoutMs: 25_000,
    startWaitMs: 0,
    databaseQueryTimeoutMs: 60_000,
    ...peers,
  };
}

/** Starts one service of a split gateway at a time, each added to `running` (closed last first by the caller); resolves to its URL. */
export function serviceStarter(configPath: string, plumbing: GatewayPlumbing, running: RunningGateway[]) {
  return async (service: ServiceName, peers: Partial<GatewayOptions> = {}): Promise<string> => {
    const s = await startGateway(gatewayOptions(service, configPath, plumbing, peers));
    running.push(s);
    return `http://127.0.0.1:${s.port}`;
  };
}

/** Where a split edge finds its peers. */
export interface SplitPeers {
  keysUrl: string;
  routerUrl: string;
  accountingUrl: string;
}

/** Every service as its own Connect server on loopback, and an edge that calls them over HTTP/2 (the edge's port is the gateway's). */
export async function startSplitGateway(configPath: string, plumbing: GatewayPlumbing): Promise<RunningGateway & { peers: SplitPeers }> {
  const started: RunningGateway[] = [];
  let peers: SplitPeers;
  try {
    const url = async (service: ServiceName) => {
      const s = await startGateway(gatewayOptions(service, configPath, plumbing));
      started.push(s);
      return `http://127.0.0.1:${s.port}`;
    };
    peers = { keysUrl: await url("keys"), routerUrl: await url("router"), accountingUrl: await url("accounting") };
    const edge = await startGateway(gatewayOptions("edge", configPath, plumbing, peers));
    started.unshift(edge);
  } catch (err) {
    for (const s of started) await s.close();
    throw err;
  }
  return {
    peers,
    port: started[0]!.port,
    async close() {
      for (const s of started) await s.close();
    },
    async reload() {
      for (const s of started) await s.reload();
    },
  };
}
